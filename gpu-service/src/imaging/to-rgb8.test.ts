import { describe, expect, it } from 'vitest'
import { gaussianNoise } from '../diffusion/gaussian-noise.ts'
import { toByte, toRgb8 } from './to-rgb8.ts'

// The diffusers pipeline, step by step in float32 (Float32Array cells do the rounding), then numpy's
// round-half-to-even via floor and the fractional part.
const f32 = new Float32Array(1)
function referenceByte(x: number): number {
  f32[0] = x * 0.5
  f32[0] = f32[0] + 0.5
  let unit = f32[0]
  if (Number.isNaN(unit)) return 0
  unit = Math.min(1, Math.max(0, unit))
  f32[0] = unit * 255
  const scaled = f32[0]
  const floor = Math.floor(scaled)
  const fraction = scaled - floor
  if (fraction > 0.5) return floor + 1
  if (fraction < 0.5) return floor
  return floor % 2 === 0 ? floor : floor + 1
}

function referenceImages(decoded: Float32Array, batch: number, height: number, width: number): Uint8Array[] {
  const images: Uint8Array[] = []
  for (let b = 0; b < batch; b++) {
    const rgb = new Uint8Array(height * width * 3)
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          rgb[(y * width + x) * 3 + c] = referenceByte(decoded[((b * 3 + c) * height + y) * width + x]!)
        }
      }
    }
    images.push(rgb)
  }
  return images
}

describe('toRgb8', () => {
  it('matches a direct per-pixel implementation on a batch of 2 (NCHW → HWC per image)', () => {
    const [batch, height, width] = [2, 17, 23]
    // Spread beyond [−1, 1] so clamping is exercised too.
    const decoded = gaussianNoise(77n, batch * 3 * height * width).map((x) => x * 0.8)
    const images = toRgb8(decoded, [batch, 3, height, width])
    expect(images).toEqual(referenceImages(decoded, batch, height, width))
    expect(images[1]!.length).toBe(height * width * 3)
  })

  it('maps edge values: −1 → 0, 0 → 128, 1 → 255, clamps beyond, NaN → 0', () => {
    const cases: [number, number][] = [
      [-1, 0],
      [1, 255],
      [0, 128], // 127.5 is a tie: half to even gives 128
      [-0, 128],
      [-2, 0],
      [2, 255],
      [Number.NEGATIVE_INFINITY, 0],
      [Number.POSITIVE_INFINITY, 255],
      [Number.NaN, 0],
    ]
    for (const [x, byte] of cases) expect([x, toByte(x)]).toEqual([x, byte])
    // Planes R = [NaN, −1], G = [1, 0], B = [0.5, −0.5] → pixels (0, 255, 191), (0, 128, 64).
    const decoded = Float32Array.from([Number.NaN, -1, 1, 0, 0.5, -0.5])
    expect(Array.from(toRgb8(decoded, [1, 3, 1, 2])[0]!)).toEqual([0, 255, 191, 0, 128, 64])
  })

  it('rounds exact ties to even, as numpy does (Math.round would go up)', () => {
    // Find float32 inputs whose scaled value is exactly k + 0.5.
    const bits = new Uint32Array(1)
    const float = new Float32Array(bits.buffer)
    const ties: [x: number, scaled: number][] = []
    for (let k = 0; k < 255; k++) {
      float[0] = (2 * (k + 0.5)) / 255 - 1
      const center = bits[0]!
      for (let d = -200; d <= 200; d++) {
        bits[0] = center + d
        const x = float[0]
        const scaled = Math.fround(Math.fround(Math.fround(x * 0.5) + 0.5) * 255)
        if (scaled === k + 0.5) ties.push([x, scaled])
      }
    }
    const evenBelow = ties.filter(([, scaled]) => Math.floor(scaled) % 2 === 0)
    expect(evenBelow.length).toBeGreaterThan(0)
    for (const [x, scaled] of ties) {
      const byte = toByte(x)
      expect(byte % 2).toBe(0)
      expect(Math.abs(byte - scaled)).toBe(0.5)
      expect(byte).toBe(referenceByte(x))
    }
  })

  it.each([
    [[1, 4, 2, 2], 'decoder output must have 3 channels (RGB), got 4'],
    [[0, 3, 2, 2], 'decoder output batch must be a positive integer'],
    [[1, 3, 2.5, 2], 'decoder output height must be a positive integer'],
    [[1, 3, 3, 2], 'decoder output has 12 values; shape [1, 3, 3, 2] needs 18'],
  ] as const)('rejects shape %j for 12 values', (shape, message) => {
    expect(() => toRgb8(new Float32Array(12), shape)).toThrow(message)
  })
})
