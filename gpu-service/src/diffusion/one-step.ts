/** The `prediction_type` values of diffusers' scheduler configs that one-step x0 recovery supports. */
export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const
export type PredictionType = (typeof PREDICTION_TYPES)[number]

/** Stable Diffusion 1.x/2.x VAE `scaling_factor` (SDXL's is 0.13025: read it from the VAE config). */
export const SD_VAE_SCALING_FACTOR = 0.18215

export interface PredictX0Input {
  /** The noisy latent z_t the model was given. */
  z: Float32Array
  /** The model's output for z_t at timestep t, same length as `z`. */
  modelOutput: Float32Array
  /** ᾱ_t at that timestep, in (0, 1] (0 is allowed for `v_prediction` and `sample`). */
  alphaBar: number
  /** `prediction_type` from the scheduler config; a string because it comes from JSON. */
  predictionType: string
  /**
   * Where to write x0; default a new array. It may be `z` or `modelOutput` itself: each element is
   * read before it is written, so in-place use is safe and allocation-free.
   */
  out?: Float32Array
}

/**
 * The clean latent x0 implied by one model evaluation, with z_t = √ᾱ·x0 + √(1−ᾱ)·ε:
 * - `epsilon`: x0 = (z − √(1−ᾱ)·ε̂) / √ᾱ
 * - `v_prediction`: x0 = √ᾱ·z − √(1−ᾱ)·v̂ (v = √ᾱ·ε − √(1−ᾱ)·x0)
 * - `sample`: x0 = the output itself
 *
 * Arithmetic is float64 per element, rounded once to float32 on store.
 */
export function predictX0({ z, modelOutput, alphaBar, predictionType, out }: PredictX0Input): Float32Array {
  if (modelOutput.length !== z.length) {
    throw new Error(`modelOutput has ${modelOutput.length} values but z has ${z.length}`)
  }
  if (typeof alphaBar !== 'number' || !(alphaBar >= 0 && alphaBar <= 1)) {
    throw new Error('alphaBar must be a number in [0, 1]')
  }
  const target = out ?? new Float32Array(z.length)
  if (target.length !== z.length) throw new Error(`out has ${target.length} values but z has ${z.length}`)
  const signal = Math.sqrt(alphaBar)
  const noise = Math.sqrt(1 - alphaBar)
  const length = z.length

  switch (predictionType) {
    case 'epsilon':
      if (alphaBar === 0) throw new Error('alphaBar must be > 0 for epsilon prediction (x0 is undefined at ᾱ = 0)')
      for (let i = 0; i < length; i++) target[i] = (z[i]! - noise * modelOutput[i]!) / signal
      return target
    case 'v_prediction':
      for (let i = 0; i < length; i++) target[i] = signal * z[i]! - noise * modelOutput[i]!
      return target
    case 'sample':
      if (target !== modelOutput) target.set(modelOutput)
      return target
    default:
      throw new Error(
        `unsupported prediction_type ${JSON.stringify(predictionType)}; expected one of ${PREDICTION_TYPES.join(', ')}`,
      )
  }
}

/**
 * The VAE decoder's input: x0 / scaling_factor (the UNet works in latents scaled by it).
 * `scalingFactor` defaults to SD 1.x/2.x's 0.18215. `out` defaults to a new array; pass `x0` to
 * scale in place.
 */
export function toVaeInput(
  x0: Float32Array,
  scalingFactor: number = SD_VAE_SCALING_FACTOR,
  out: Float32Array = new Float32Array(x0.length),
): Float32Array {
  if (typeof scalingFactor !== 'number' || !Number.isFinite(scalingFactor) || scalingFactor <= 0) {
    throw new Error('scalingFactor must be a finite number > 0')
  }
  if (out.length !== x0.length) throw new Error(`out has ${out.length} values but x0 has ${x0.length}`)
  for (let i = 0; i < x0.length; i++) out[i] = x0[i]! / scalingFactor
  return out
}
