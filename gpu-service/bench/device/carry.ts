/**
 * What travels to a lent GPU machine: structure-only bundles (graphs naming their weights as external
 * data, plus the weights' manifests) in fp16 and fp32, with the UNet's NASA, NASA-projection and NAG
 * rewrites made here by the product's own TypeScript rewrite, and `index.json` listing every graph's
 * inputs and outputs for device_bench.py. No weights: the device draws them (write_weights.py).
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { writeBundle } from '../../src/bundle/build/bundle-writer.ts'
import { presets, type PresetName } from '../../src/bundle/build/presets.ts'
import { rewriteModelFile } from '../../src/nasa/rewrite-file.ts'
import type { GuidanceMode } from '../../src/nasa/rewrite-context.ts'
import { DataType, decodeModel, type ValueInfoProto } from '../../src/onnx/onnx-proto.ts'
import { MANIFEST_FILE, manifestSha256, readManifest } from '../../src/onnx/weight-manifest.ts'

export const CARRY_SCHEMA = 'snoopi-device-carry/1'
export type Dtype = 'fp16' | 'fp32'
/** Graph keys of the index: the three models and the rewritten UNets. */
export const GUIDED_MODES: GuidanceMode[] = ['nasa', 'nasa-proj', 'nag']

export interface TensorSpec {
  name: string
  dtype: 'float32' | 'float16' | 'int64' | 'int32'
  dims: (number | string)[]
}
export interface GraphSpec {
  file: string
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  nodes: number
}
export interface CarryBundle {
  dir: string
  graphs: Record<string, GraphSpec>
  manifests: string[]
  weightBytes: number
}
export interface CarryIndex {
  schema: typeof CARRY_SCHEMA
  preset: PresetName
  padId: number
  createdAt: string
  gitCommit: string
  bundles: Partial<Record<Dtype, CarryBundle>>
  rewrites: Record<string, { layers: number; nodesAdded: number }>
}

const TYPE_NAMES: Record<number, TensorSpec['dtype']> = { [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16', [DataType.INT64]: 'int64', [DataType.INT32]: 'int32' }

function spec(v: ValueInfoProto): TensorSpec {
  const t = v.type?.tensorType
  const dtype = TYPE_NAMES[Number(t?.elemType)]
  if (!dtype) throw new Error(`${v.name}: element type ${t?.elemType} is not one the bench feeds`)
  const dims = (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)))
  return { name: String(v.name), dtype, dims }
}

function graphSpec(bundleDir: string, file: string): GraphSpec {
  const graph = decodeModel(readFileSync(join(bundleDir, file))).graph
  return { file, inputs: (graph?.input ?? []).map(spec), outputs: (graph?.output ?? []).map(spec), nodes: graph?.node?.length ?? 0 }
}

/** Guided UNet file names, as loadGuidedUnet names them beside the original. */
export const guidedFile = (mode: GuidanceMode) => `unet/model.${mode}${mode === 'nag' ? '-l2' : ''}.onnx`

export interface PrepareOptions {
  preset: PresetName
  out: string
  dtypes: Dtype[]
  /** Record each data file's SHA-256 (drawn here in TypeScript) in its manifest; the device compares. */
  hashes?: boolean
  log?: (line: string) => void
}

/** Writes the carry folder (emptied first) and returns its index. */
export function prepareCarry({ preset, out, dtypes, hashes = false, log = console.log }: PrepareOptions): CarryIndex {
  rmSync(out, { recursive: true, force: true })
  const index: CarryIndex = {
    schema: CARRY_SCHEMA,
    preset,
    // '!' is CLIP id 0 (SD2.x pads with it); '<|endoftext|>' is 49407.
    padId: presets[preset].padToken === '!' ? 0 : 49407,
    createdAt: new Date().toISOString(),
    gitCommit: gitCommit(),
    bundles: {},
    rewrites: {},
  }
  for (const dtype of dtypes) {
    const dir = `${preset}-${dtype}`
    const bundleDir = join(out, dir)
    writeBundle({ preset: presets[preset], out: bundleDir, weightType: dtype, weights: 'manifest', onProgress: (line) => log(`  ${dir}: ${line}`) })
    rmSync(join(bundleDir, 'tokenizer'), { recursive: true, force: true }) // the bench feeds token ids
    const graphs: Record<string, GraphSpec> = {}
    for (const component of ['text_encoder', 'unet', 'vae_decoder']) graphs[component] = graphSpec(bundleDir, `${component}/model.onnx`)
    for (const mode of GUIDED_MODES) {
      const report = rewriteModelFile(join(bundleDir, 'unet/model.onnx'), join(bundleDir, guidedFile(mode)), { mode })
      index.rewrites[`${dtype}:${mode}`] = { layers: report.layers, nodesAdded: report.nodesAdded }
      graphs[`unet.${mode}`] = graphSpec(bundleDir, guidedFile(mode))
      log(`  ${dir}: ${mode} rewrite, ${report.layers} cross-attention layers, ${report.nodesAdded} nodes added`)
    }
    const manifests = ['text_encoder', 'unet', 'vae_decoder'].map((c) => `${c}/${MANIFEST_FILE}`)
    let weightBytes = 0
    for (const m of manifests) {
      const path = join(bundleDir, m)
      const manifest = readManifest(path)
      weightBytes += manifest.bytes
      if (hashes) {
        const t0 = Date.now()
        manifest.sha256 = manifestSha256(manifest)
        writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`)
        log(`  ${dir}: ${m} SHA-256 drawn in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      }
    }
    index.bundles[dtype] = { dir, graphs, manifests, weightBytes }
  }
  writeFileSync(join(out, 'index.json'), `${JSON.stringify(index, null, 2)}\n`)
  return index
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

/** Bytes under a folder. */
export function folderBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size
  }
  return total
}

/** Bytes of what the device tool sends besides carried paths: tracked files and untracked files git does not ignore. */
export function workingTreeBytes(repo: string): number {
  const list = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repo, maxBuffer: 64 << 20 }).toString('utf8')
  let total = 0
  for (const file of list.split('\0')) {
    if (!file) continue
    try {
      total += statSync(join(repo, file)).size
    } catch {
      // deleted in the work tree: does not travel
    }
  }
  return total
}

export const relativeTo = (from: string, to: string) => relative(from, to) || '.'
