/** `[batch, channels, height, width]` of a decoder output tensor (NCHW). */
export type NchwShape = readonly [batch: number, channels: number, height: number, width: number]

/**
 * Converts a VAE decoder output (NCHW float32, nominally in [−1, 1], 3 channels) into one interleaved
 * RGB (HWC) byte array per image.
 *
 * Each value maps as diffusers' `VaeImageProcessor.postprocess` + `numpy_to_pil` do for a float32
 * decoder: clamp(x·0.5 + 0.5, 0, 1)·255 with every step rounded to float32, then rounded half to even
 * (numpy's `round`), so the bytes match diffusers' for the same decoder output. NaN becomes 0;
 * ±∞ clamps to 0 / 255.
 */
export function toRgb8(decoded: Float32Array, shape: NchwShape): Uint8Array[] {
  const [batch, channels, height, width] = shape
  for (const [name, value] of [
    ['batch', batch],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`decoder output ${name} must be a positive integer`)
  }
  if (channels !== 3) throw new Error(`decoder output must have 3 channels (RGB), got ${channels}`)
  const pixels = height * width
  if (decoded.length !== batch * 3 * pixels) {
    const needed = batch * 3 * pixels
    throw new Error(`decoder output has ${decoded.length} values; shape [${shape.join(', ')}] needs ${needed}`)
  }

  const images: Uint8Array[] = []
  for (let b = 0; b < batch; b++) {
    const rgb = new Uint8Array(pixels * 3)
    for (let c = 0; c < 3; c++) {
      const plane = (b * 3 + c) * pixels
      for (let p = 0; p < pixels; p++) rgb[p * 3 + c] = toByte(decoded[plane + p]!)
    }
    images.push(rgb)
  }
  return images
}

/** One decoder value → byte; exported for tests. See `toRgb8` for the rounding rules. */
export function toByte(x: number): number {
  const unit = Math.fround(Math.fround(x * 0.5) + 0.5)
  // Written so NaN fails both comparisons and lands on 0.
  const clamped = unit > 1 ? 1 : unit >= 0 ? unit : 0
  const scaled = Math.fround(clamped * 255)
  const rounded = Math.round(scaled)
  // Math.round sends ties up; numpy sends them to the even neighbour.
  return rounded - scaled === 0.5 && (rounded & 1) === 1 ? rounded - 1 : rounded
}
