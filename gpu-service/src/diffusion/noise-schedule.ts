/** The β schedules diffusers' DDPM-family schedulers name in `beta_schedule`, supported here. */
export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const
export type BetaSchedule = (typeof BETA_SCHEDULES)[number]

/**
 * The fields of a diffusers `scheduler_config.json` that determine ᾱ_t (snake_case, as in the file;
 * other fields are ignored). Defaults are Stable Diffusion 1.x/2.x's, not the diffusers class defaults
 * (which are `linear`, 0.0001 … 0.02).
 */
export interface NoiseScheduleConfig {
  /** Default 1000. */
  num_train_timesteps?: number
  /** Default 0.00085. */
  beta_start?: number
  /** Default 0.012. */
  beta_end?: number
  /** Default `scaled_linear`. Typed as string because it comes from a JSON file; checked at run time. */
  beta_schedule?: string
  /** Explicit β_t; overrides `beta_schedule`, `beta_start` and `beta_end` (diffusers does the same). */
  trained_betas?: ArrayLike<number> | null
  /** Only `false` is supported: zero-terminal-SNR rescaling makes ᾱ_T = 0 (no x0 from ε at t = T). */
  rescale_betas_zero_snr?: boolean
}

/** Upper bound on `num_train_timesteps`: every released model uses 1000; this only rejects nonsense. */
export const MAX_TRAIN_TIMESTEPS = 100_000

/** diffusers' `betas_for_alpha_bar` cap for the cosine schedule: keeps β < 1 near t = T. */
const COSINE_MAX_BETA = 0.999

/**
 * ᾱ_t = Π_{s ≤ t} (1 − β_s) for t = 0 … num_train_timesteps − 1, as diffusers' schedulers compute
 * `alphas_cumprod`.
 *
 * Computed in float64 throughout; diffusers rounds β to float32 and takes a float32 cumprod. Against a
 * float32 emulation the difference is ≤ 2.1e-6 relative for SD's `scaled_linear` and `linear` schedules
 * and ≤ 1.4e-5 for `squaredcos_cap_v2` (at t = 999, where ᾱ ≈ 2.4e-9) — far below what a float32/fp16
 * UNet resolves.
 */
export function alphasCumprod(config: NoiseScheduleConfig = {}): Float64Array {
  if (config.rescale_betas_zero_snr === true) {
    throw new Error('rescale_betas_zero_snr is not supported (it makes the final alphas_cumprod 0)')
  }
  const betas = betasOf(config)
  const out = new Float64Array(betas.length)
  let product = 1
  for (let t = 0; t < betas.length; t++) {
    product *= 1 - (betas[t] ?? 0)
    out[t] = product
  }
  return out
}

/** ᾱ at one training timestep, with a range check that names the valid timesteps. */
export function alphaBarAt(alphasCumprod: Float64Array, timestep: number): number {
  const value = Number.isInteger(timestep) ? alphasCumprod[timestep] : undefined
  if (value === undefined) {
    throw new Error(`timestep must be an integer in [0, ${alphasCumprod.length - 1}]`)
  }
  return value
}

function betasOf(config: NoiseScheduleConfig): Float64Array {
  const steps = config.num_train_timesteps ?? 1000
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_TRAIN_TIMESTEPS) {
    throw new Error(`num_train_timesteps must be an integer in [1, ${MAX_TRAIN_TIMESTEPS}]`)
  }
  if (config.trained_betas != null) return trainedBetas(config.trained_betas, config.num_train_timesteps)

  const schedule = config.beta_schedule ?? 'scaled_linear'
  const betaStart = checkBeta('beta_start', config.beta_start ?? 0.00085)
  const betaEnd = checkBeta('beta_end', config.beta_end ?? 0.012)
  switch (schedule) {
    case 'linear':
      return linspace(betaStart, betaEnd, steps)
    case 'scaled_linear':
      return linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), steps).map((root) => root * root)
    case 'squaredcos_cap_v2':
      return cosineBetas(steps)
    default:
      throw new Error(
        `unsupported beta_schedule ${JSON.stringify(schedule)}; expected one of ${BETA_SCHEDULES.join(', ')}`,
      )
  }
}

function trainedBetas(values: ArrayLike<number>, declaredSteps: number | undefined): Float64Array {
  if (values.length < 1 || values.length > MAX_TRAIN_TIMESTEPS) {
    throw new Error(`trained_betas must have 1 to ${MAX_TRAIN_TIMESTEPS} entries`)
  }
  if (declaredSteps !== undefined && declaredSteps !== values.length) {
    throw new Error(`trained_betas has ${values.length} entries but num_train_timesteps is ${declaredSteps}`)
  }
  const betas = Float64Array.from(values)
  betas.forEach((beta, t) => checkBeta(`trained_betas[${t}]`, beta))
  return betas
}

/** β must be a probability short of 1 (β = 1 would make every later ᾱ exactly 0). */
function checkBeta(name: string, beta: number): number {
  if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) throw new Error(`${name} must be a number in [0, 1)`)
  return beta
}

/** `steps` evenly spaced values from `start` to `end` inclusive (torch.linspace; one step gives `start`). */
function linspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps)
  if (steps === 1) {
    out[0] = start
    return out
  }
  for (let i = 0; i < steps; i++) out[i] = start + ((end - start) * i) / (steps - 1)
  return out
}

/**
 * The Glide / improved-DDPM cosine schedule, as diffusers' `betas_for_alpha_bar`:
 * β_i = min(1 − f((i + 1)/T) / f(i/T), 0.999) with f(x) = cos²((x + 0.008)/1.008 · π/2).
 */
function cosineBetas(steps: number): Float64Array {
  const alphaBar = (fraction: number): number => Math.cos((((fraction + 0.008) / 1.008) * Math.PI) / 2) ** 2
  const out = new Float64Array(steps)
  for (let i = 0; i < steps; i++) {
    out[i] = Math.min(1 - alphaBar((i + 1) / steps) / alphaBar(i / steps), COSINE_MAX_BETA)
  }
  return out
}
