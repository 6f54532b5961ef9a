import { Xoshiro256StarStar } from './xoshiro256.ts'

/**
 * Largest sample count one call may ask for (1 GiB of float32): far above any latent (SD 1.5 at 512²
 * is 4 × 64 × 64 = 16 384 samples), it stops a bad request from allocating gigabytes.
 */
export const MAX_NOISE_SAMPLES = 2 ** 28

const TWO_PI = 2 * Math.PI
const TWO_POW_MINUS_53 = 2 ** -53

/**
 * Fills `out` with standard-normal float32 samples determined only by `seed` (0 … 2^64 − 1).
 *
 * Generator: xoshiro256** seeded by SplitMix64 (see `xoshiro256.ts`); two uniforms u1, u2 from the top
 * 53 bits of two outputs make a Box–Muller pair r·cos θ, r·sin θ with r = √(−2 ln(1 − u1)), θ = 2π·u2.
 * Using 1 − u1 ∈ (0, 1] keeps log away from 0, which caps |x| at √(106 ln 2) ≈ 8.57 (probability 2^−53).
 * An odd length drops the last pair's second value, so a shorter request is always a prefix of a longer
 * one with the same seed.
 *
 * Determinism: the integer steps are exact everywhere and Math.sqrt is correctly rounded, but the spec
 * leaves Math.log/cos/sin implementation-defined. V8 compiles in its own implementations (fdlibm/glibc
 * ports) instead of calling the system libm, so one Node build on one CPU architecture gives identical
 * bytes run after run and machine after machine. Treat seed → noise as stable per deployment, not
 * across JS engines or Node upgrades. The stream is not torch.randn's: the same seed does not reproduce
 * a diffusers image.
 */
export function gaussianNoiseInto(seed: bigint | number, out: Float32Array): Float32Array {
  const rng = new Xoshiro256StarStar(seed)
  const length = out.length
  const pairsEnd = length - (length % 2)
  for (let i = 0; i < pairsEnd; i += 2) {
    const u1 = 1 - rng.nextUint53() * TWO_POW_MINUS_53
    const theta = TWO_PI * (rng.nextUint53() * TWO_POW_MINUS_53)
    const r = Math.sqrt(-2 * Math.log(u1))
    out[i] = r * Math.cos(theta)
    out[i + 1] = r * Math.sin(theta)
  }
  if (pairsEnd < length) {
    const u1 = 1 - rng.nextUint53() * TWO_POW_MINUS_53
    const theta = TWO_PI * (rng.nextUint53() * TWO_POW_MINUS_53)
    out[pairsEnd] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(theta)
  }
  return out
}

/** `count` standard-normal float32 samples for `seed`; see `gaussianNoiseInto` for the generator. */
export function gaussianNoise(seed: bigint | number, count: number): Float32Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_NOISE_SAMPLES) {
    throw new Error(`count must be an integer in [0, ${MAX_NOISE_SAMPLES}]`)
  }
  return gaussianNoiseInto(seed, new Float32Array(count))
}

/**
 * The initial latent z_T for one image: `channels × height × width` standard-normal samples in CHW
 * (row-major) order, i.e. one row of an NCHW batch. For a batch, call once per row with seed, seed + 1, …
 * (SplitMix64 seeding makes neighbouring seeds independent).
 */
export function latentNoise(seed: bigint | number, shape: readonly [number, number, number]): Float32Array {
  const [channels, height, width] = shape
  for (const [name, value] of [
    ['channels', channels],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`latent ${name} must be a positive integer`)
  }
  const count = channels * height * width
  if (count > MAX_NOISE_SAMPLES) throw new Error(`latent has ${count} values; at most ${MAX_NOISE_SAMPLES} allowed`)
  return gaussianNoiseInto(seed, new Float32Array(count))
}
