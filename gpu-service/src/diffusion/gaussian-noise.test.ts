import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MAX_NOISE_SAMPLES, gaussianNoise, gaussianNoiseInto, latentNoise } from './gaussian-noise.ts'
import { Xoshiro256StarStar } from './xoshiro256.ts'

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

function moments(samples: Float32Array): { mean: number; variance: number } {
  let sum = 0
  let sumSquares = 0
  for (const x of samples) {
    sum += x
    sumSquares += x * x
  }
  const mean = sum / samples.length
  return { mean, variance: sumSquares / samples.length - mean * mean }
}

describe('gaussianNoise', () => {
  it('gives identical bytes for the same seed, number or bigint', () => {
    const a = gaussianNoise(20240607n, 10_001)
    const b = gaussianNoise(20240607, 10_001)
    expect(bytesOf(a).equals(bytesOf(b))).toBe(true)
  })

  it('differs between neighbouring seeds, element by element', () => {
    const a = gaussianNoise(7n, 4096)
    const b = gaussianNoise(8n, 4096)
    let equal = 0
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) equal++
    expect(equal).toBe(0)
  })

  it('is a Box–Muller transform of the generator’s top-53-bit uniforms', () => {
    const rng = new Xoshiro256StarStar(99n)
    const expected: number[] = []
    for (let i = 0; i < 4; i++) {
      const u1 = rng.nextDouble()
      const u2 = rng.nextDouble()
      const r = Math.sqrt(-2 * Math.log(1 - u1))
      expected.push(Math.fround(r * Math.cos(2 * Math.PI * u2)), Math.fround(r * Math.sin(2 * Math.PI * u2)))
    }
    expect(Array.from(gaussianNoise(99n, 8))).toEqual(expected)
  })

  it('makes a shorter request a prefix of a longer one (odd lengths included)', () => {
    const long = gaussianNoise(5n, 1000)
    for (const n of [0, 1, 2, 3, 999]) expect(Array.from(gaussianNoise(5n, n))).toEqual(Array.from(long.subarray(0, n)))
  })

  it('has mean 0 and variance 1 over 1e6 draws', () => {
    // Standard errors at n = 1e6: mean 0.001, variance √(2/n) ≈ 0.0014, a two-sided 5% tail
    // √(0.05·0.95/n) ≈ 0.0002 — the bounds are 5–7 standard errors.
    const samples = gaussianNoise(1n, 1_000_000)
    const { mean, variance } = moments(samples)
    expect(Math.abs(mean)).toBeLessThan(0.005)
    expect(Math.abs(variance - 1)).toBeLessThan(0.01)
    let tails = 0
    for (const x of samples) if (Math.abs(x) > 1.959964) tails++
    expect(Math.abs(tails / samples.length - 0.05)).toBeLessThan(0.0012)
  })

  it('gives uncorrelated streams for seed and seed + 1 (a batch)', () => {
    const n = 1_000_000
    const a = gaussianNoise(1000n, n)
    const b = gaussianNoise(1001n, n)
    let dot = 0
    for (let i = 0; i < n; i++) dot += a[i]! * b[i]!
    // Standard error of the correlation is 1/√n = 0.001.
    expect(Math.abs(dot / n)).toBeLessThan(0.005)
  })

  it('fills a caller-provided array', () => {
    const out = new Float32Array(33)
    expect(gaussianNoiseInto(3n, out)).toBe(out)
    expect(Array.from(out)).toEqual(Array.from(gaussianNoise(3n, 33)))
  })

  it.each([-1, 1.5, Number.NaN, MAX_NOISE_SAMPLES + 1])('rejects count %s', (count) => {
    expect(() => gaussianNoise(1n, count)).toThrow(`count must be an integer in [0, ${MAX_NOISE_SAMPLES}]`)
  })

  it('rejects bad seeds', () => {
    expect(() => gaussianNoise(-1n, 4)).toThrow('seed must be an integer in [0, 2^64-1]')
    expect(() => gaussianNoise(2n ** 64n, 4)).toThrow('seed must be an integer in [0, 2^64-1]')
    expect(() => gaussianNoise(0.5, 4)).toThrow('seed must be an integer in [0, 2^64-1]')
  })
})

describe('latentNoise', () => {
  it('returns channels × height × width samples, the same stream as gaussianNoise', () => {
    const latent = latentNoise(11n, [4, 64, 64])
    expect(latent.length).toBe(4 * 64 * 64)
    expect(bytesOf(latent).equals(bytesOf(gaussianNoise(11n, 4 * 64 * 64)))).toBe(true)
  })

  it('reproduces the pinned latent for seed 42 (a Node update that changes it breaks seed reproducibility)', () => {
    // Same bytes from an independent Python reimplementation (int arithmetic, glibc log/cos/sin, numpy float32).
    const latent = latentNoise(42n, [4, 64, 64])
    expect(createHash('sha256').update(bytesOf(latent)).digest('hex')).toBe(
      '7457b6a3207e0a89ecabff41fcdc8775f1a03e39fb71f28d4d508d952c8163c4',
    )
    expect(Array.from(latent.subarray(0, 4))).toEqual([
      -0.3032630681991577, 0.28846174478530884, 1.3438117504119873, -0.6879751682281494,
    ])
  })

  it.each([
    [[0, 64, 64], 'latent channels must be a positive integer'],
    [[4, 64.5, 64], 'latent height must be a positive integer'],
    [[4, 64, -1], 'latent width must be a positive integer'],
    [[4, 2 ** 14, 2 ** 14], /latent has 1073741824 values; at most 268435456 allowed/],
  ] as const)('rejects shape %j', (shape, message) => {
    expect(() => latentNoise(1n, shape)).toThrow(message)
  })
})
