/**
 * PNG scanline filters (PNG spec §9) for 8-bit RGB, and an adaptive per-row choice.
 *
 * Filter type bytes: 0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth. Each predicts a byte from the matching
 * byte of the pixel to the left (a, 3 bytes back), above (b) and above-left (c), 0 outside the image,
 * and stores the difference mod 256.
 */
export const PNG_FILTERS = ['none', 'sub', 'up', 'average', 'paeth', 'adaptive'] as const
export type PngFilter = (typeof PNG_FILTERS)[number]

/** Filters one row into `out` (the same length); `above` is the previous row, zeros for the first. */
type RowFilter = (row: Uint8Array, above: Uint8Array, out: Uint8Array) => void

const BPP = 3 // bytes per pixel: 8-bit RGB

const none: RowFilter = (row, _above, out) => out.set(row)

const sub: RowFilter = (row, _above, out) => {
  for (let i = 0; i < BPP; i++) out[i] = row[i]!
  for (let i = BPP; i < row.length; i++) out[i] = row[i]! - row[i - BPP]!
}

const up: RowFilter = (row, above, out) => {
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - above[i]!
}

const average: RowFilter = (row, above, out) => {
  for (let i = 0; i < BPP; i++) out[i] = row[i]! - (above[i]! >>> 1)
  for (let i = BPP; i < row.length; i++) out[i] = row[i]! - ((row[i - BPP]! + above[i]!) >>> 1)
}

const paeth: RowFilter = (row, above, out) => {
  // With a = c = 0 the Paeth predictor is b.
  for (let i = 0; i < BPP; i++) out[i] = row[i]! - above[i]!
  for (let i = BPP; i < row.length; i++) {
    const a = row[i - BPP]!
    const b = above[i]!
    const c = above[i - BPP]!
    // p = a + b − c; pa = |p − a| = |b − c|, pb = |a − c|, pc = |a + b − 2c|; ties prefer a, then b.
    // Branch-free (sign masks): on photographic rows the choice is unpredictable and branches cost ~4×.
    const da = b - c
    const db = a - c
    const dc = da + db
    const pa = (da ^ (da >> 31)) - (da >> 31)
    const pb = (db ^ (db >> 31)) - (db >> 31)
    const pc = (dc ^ (dc >> 31)) - (dc >> 31)
    const notA = ((pb - pa) | (pc - pa)) >> 31 // −1 when pa > pb or pa > pc
    const notB = (pc - pb) >> 31 // −1 when pb > pc
    const bOrC = b ^ ((b ^ c) & notB)
    out[i] = row[i]! - (a ^ ((a ^ bOrC) & notA))
  }
}

const FILTERS: readonly RowFilter[] = [none, sub, up, average, paeth]

/**
 * Writes `height` filtered scanlines (type byte + `stride` bytes each) of `pixels` into a new buffer.
 * `adaptive` filters each row all five ways and keeps the one with the smallest Σ|byte as int8|, the
 * heuristic the PNG spec and libpng recommend for truecolour images.
 */
export function filterScanlines(pixels: Uint8Array, stride: number, height: number, filter: PngFilter): Uint8Array {
  const out = new Uint8Array(height * (stride + 1))
  const zeroRow = new Uint8Array(stride)
  const fixedType = filter === 'adaptive' ? -1 : PNG_FILTERS.indexOf(filter)
  const fixed = FILTERS[fixedType]
  const trial = new Uint8Array(fixed ? 0 : stride)
  for (let y = 0; y < height; y++) {
    const row = pixels.subarray(y * stride, (y + 1) * stride)
    const above = y === 0 ? zeroRow : pixels.subarray((y - 1) * stride, y * stride)
    const start = y * (stride + 1)
    const target = out.subarray(start + 1, start + 1 + stride)
    if (fixed) {
      out[start] = fixedType
      fixed(row, above, target)
      continue
    }
    let bestCost = Infinity
    for (let type = 0; type < FILTERS.length; type++) {
      FILTERS[type]!(row, above, trial)
      const cost = signedSum(trial, bestCost)
      if (cost < bestCost) {
        bestCost = cost
        out[start] = type
        target.set(trial)
      }
    }
  }
  return out
}

/** |byte as int8| for each byte value: the adaptive heuristic's per-byte cost, looked up without branches. */
const COST = Uint8Array.from({ length: 256 }, (_, v) => (v < 128 ? v : 256 - v))

/** Σ |byte as int8|, stopping once it reaches `limit` (that row has already lost). */
function signedSum(bytes: Uint8Array, limit: number): number {
  let sum = 0
  for (let i = 0; i < bytes.length; i++) {
    sum += COST[bytes[i]!]!
    if (sum >= limit) return sum
  }
  return sum
}
