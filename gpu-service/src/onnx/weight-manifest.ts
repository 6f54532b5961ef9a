import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { toFloat16Array } from './float16.ts'

/**
 * Weights described instead of stored: a structure-only ONNX graph names each weight as external data
 * (`model.onnx_data`, offset, length) and a manifest (`model.weights.json`) says how to draw it. Any
 * writer of the manifest — this one, or `gpu-service/bench/device/write_weights.py` with NumPy on a
 * lent GPU machine — produces the same bytes the GraphBuilder would have put inline.
 *
 * The draw is GraphBuilder's: normal number n of a graph's stream is Box–Muller on mulberry32
 * uniforms 2⌊n/2⌋ and 2⌊n/2⌋+1 (cos for even n, sin for odd), uniform k hashing seed + (k+1)·0x6d2b79f5.
 */
export const WEIGHT_MANIFEST_FORMAT = 'snoopi-weights/1'
export const MANIFEST_FILE = 'model.weights.json'
export const DATA_FILE = 'model.onnx_data'

/** How one tensor's values are made: `mean + std·normal(start + i)` (float64, then stored), or a constant. */
export type WeightInit = { normal: { start: number; mean: number; std: number } } | { fill: number }

export interface WeightEntry {
  name: string
  dims: number[]
  /** Byte range in the data file. */
  offset: number
  length: number
  init: WeightInit
}

export interface WeightManifest {
  format: typeof WEIGHT_MANIFEST_FORMAT
  graph: string
  /** The graph's weight seed (one normal stream per graph). */
  seed: number
  dtype: 'float32' | 'float16'
  /** The external data file, relative to the manifest's folder. */
  dataFile: string
  bytes: number
  /** Normals the graph's stream consumed (its length). */
  normals: number
  tensors: WeightEntry[]
  /** SHA-256 of the data file, when a writer recorded it. */
  sha256?: string
}

const GOLDEN = 0x6d2b79f5

/** mulberry32's output number k of `seed` as a uniform in (0, 1): the state after k+1 steps, hashed. */
function uniformAt(seed: number, k: number): number {
  let t = (seed + Math.imul(k + 1, GOLDEN)) >>> 0
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296
}

/** Normals `start … start+count−1` of `seed`'s stream, as GraphBuilder draws them in sequence. */
export function normalsAt(seed: number, start: number, count: number): Float64Array {
  const out = new Float64Array(count)
  let i = 0
  while (i < count) {
    const n = start + i
    const pair = Math.floor(n / 2)
    const r = Math.sqrt(-2 * Math.log(uniformAt(seed, 2 * pair)))
    const theta = 2 * Math.PI * uniformAt(seed, 2 * pair + 1)
    if (n % 2 === 0) {
      out[i++] = r * Math.cos(theta)
      if (i < count) out[i++] = r * Math.sin(theta)
    } else out[i++] = r * Math.sin(theta)
  }
  return out
}

/** One tensor's values in float32, exactly as GraphBuilder computes them before storage. */
export function weightValues(manifest: WeightManifest, entry: WeightEntry): Float32Array {
  const count = entry.dims.reduce((a, b) => a * b, 1)
  const values = new Float32Array(count)
  if ('fill' in entry.init) return values.fill(entry.init.fill)
  const { start, mean, std } = entry.init.normal
  const normals = normalsAt(manifest.seed, start, count)
  for (let i = 0; i < count; i++) values[i] = mean + (normals[i] as number) * std
  return values
}

/** A tensor's stored bytes (float32, or float16 rounded from the float32 values as GraphBuilder does). */
export function weightBytes(manifest: WeightManifest, entry: WeightEntry): Uint8Array {
  const values = weightValues(manifest, entry)
  const raw = manifest.dtype === 'float16' ? toFloat16Array(values) : values
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
}

export const readManifest = (path: string): WeightManifest => JSON.parse(readFileSync(path, 'utf8')) as WeightManifest

/**
 * Writes the data file a manifest (at `manifestPath`) describes, beside it. Returns its SHA-256.
 * Skips the work when the file exists with the manifest's hash (or, with no hash recorded, its size).
 */
export function writeWeightData(manifestPath: string, { force = false } = {}): { path: string; sha256: string; skipped: boolean } {
  const manifest = readManifest(manifestPath)
  const path = join(dirname(manifestPath), manifest.dataFile)
  if (!force && existsSync(path) && statSync(path).size === manifest.bytes) {
    const sha256 = fileSha256(path)
    if (!manifest.sha256 || manifest.sha256 === sha256) return { path, sha256, skipped: true }
  }
  const hash = createHash('sha256')
  const fd = openSync(path, 'w')
  try {
    let offset = 0
    for (const entry of manifest.tensors) {
      if (entry.offset !== offset) throw new Error(`${manifestPath}: ${entry.name} starts at ${entry.offset}, expected ${offset}`)
      const bytes = weightBytes(manifest, entry)
      if (bytes.byteLength !== entry.length) throw new Error(`${manifestPath}: ${entry.name} is ${bytes.byteLength} bytes, the manifest says ${entry.length}`)
      writeSync(fd, bytes)
      hash.update(bytes)
      offset += bytes.byteLength
    }
  } finally {
    closeSync(fd)
  }
  return { path, sha256: hash.digest('hex'), skipped: false }
}

/** SHA-256 of the bytes a manifest describes, without writing them (for recording in the manifest). */
export function manifestSha256(manifest: WeightManifest): string {
  const hash = createHash('sha256')
  for (const entry of manifest.tensors) hash.update(weightBytes(manifest, entry))
  return hash.digest('hex')
}

export function fileSha256(path: string): string {
  const hash = createHash('sha256')
  const fd = openSync(path, 'r')
  const buffer = Buffer.alloc(1 << 22)
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}
