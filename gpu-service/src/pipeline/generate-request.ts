import { parseSeed } from '../diffusion/seed.ts'
import { formatSize, nasaSettings, type ImageSize, type ModelBundle } from '../bundle/model-bundle.ts'

import { GUIDANCE_MODES, guidanceLimits, MAX_PROMPT_CHARS, OUTPUT_FORMATS, type GuidanceMode, type OutputFormat } from '../contract/limits.ts'

export type { GuidanceMode, OutputFormat }
export const outputFormats: readonly OutputFormat[] = OUTPUT_FORMATS
/** Most images in one pipeline call. */
export const MAX_BATCH = 16

/**
 * How a negative prompt acts:
 * - `nasa` (default): Z+ − α·Z− in every cross-attention (SNOOPI); `alpha` defaults to the bundle's;
 *   with `projection`, Z+ − α·max(0, ⟨Z+, Z−⟩/‖Z−‖²)·Z− per token instead (each token loses only what
 *   points along the negative branch) — the default for bundles whose snoopi.json gives
 *   `nasa_projection_alpha`;
 * - `nag`: normalised attention guidance with `scale` φ, `tau` τ, `alpha`;
 * - `cfg`: classifier-free guidance on the one-step output, ε− + scale·(ε+ − ε−) (a baseline: two UNet
 *   rows per image);
 * - `none`: ignore the negative prompt.
 */
export const guidanceModes: readonly GuidanceMode[] = GUIDANCE_MODES

export interface GuidanceSpec {
  mode?: GuidanceMode
  /** NASA α (0 … 2) or NAG α (0 … 1). */
  alpha?: number
  /** NASA with projection (default: whether the bundle gives `nasa_projection_alpha`). */
  projection?: boolean
  /** NAG φ (1 … 20) or CFG scale (1 … 20). */
  scale?: number
  /** NAG τ (1 … 10). */
  tau?: number
}

export type ResolvedGuidance =
  | { mode: 'none' }
  | { mode: 'nasa'; alpha: number; projection: boolean }
  | { mode: 'nag'; scale: number; tau: number; alpha: number }
  | { mode: 'cfg'; scale: number }

/** The UNet graph a call runs: the guidance mode, with NASA's two forms apart (two rewritten graphs). */
export type CallMode = GuidanceMode | 'nasa-proj'

export const callMode = (g: ResolvedGuidance): CallMode => (g.mode === 'nasa' && g.projection ? 'nasa-proj' : g.mode)


/** One pipeline call: image i uses prompts[i], seeds[i] and, if given, negativePrompts[i]. */
export interface GenerateRequest {
  prompts: string[]
  seeds: (bigint | number)[]
  /** Per image; empty or missing entries mean no negative prompt for that image. */
  negativePrompts?: (string | null | undefined)[]
  /** For every image, or one per image. Default `{ mode: 'nasa' }` with the bundle's α. */
  guidance?: GuidanceSpec | GuidanceSpec[]
  /** Default: the bundle's first size. */
  size?: ImageSize
  /** Default png. */
  outputFormat?: OutputFormat
}

export interface ValidRequest {
  prompts: string[]
  seeds: bigint[]
  /** Per image: its negative prompt and guidance (`none` when it has no negative prompt). */
  rows: { negative: string | undefined; guidance: ResolvedGuidance }[]
  /** The one guidance mode of this call: the mode of every image that has a negative prompt. */
  mode: CallMode
  size: ImageSize
  outputFormat: OutputFormat
}

/** Bad input from the caller (a 400 in the HTTP API, exit code 2 in the CLI). */
export class PipelineInputError extends Error {
  override name = 'PipelineInputError'
}

/** Checks a request against the bundle before any model runs. */
export function validateRequest(bundle: ModelBundle, request: GenerateRequest): ValidRequest {
  const fail = (message: string): never => {
    throw new PipelineInputError(message)
  }
  const { prompts, seeds } = request
  if (!Array.isArray(prompts) || prompts.length === 0) fail('at least one prompt is required')
  if (prompts.length > MAX_BATCH) fail(`at most ${MAX_BATCH} images per call, got ${prompts.length}`)
  if (!Array.isArray(seeds) || seeds.length !== prompts.length) fail(`need one seed per prompt (${prompts.length}), got ${seeds?.length ?? 0}`)
  prompts.forEach((prompt, i) => {
    if (typeof prompt !== 'string' || prompt.trim() === '') fail(`prompt ${i} is empty`)
    if (prompt.length > MAX_PROMPT_CHARS) fail(`prompt ${i} is ${prompt.length} characters; the limit is ${MAX_PROMPT_CHARS}`)
  })
  const parsedSeeds = seeds.map((seed) => {
    try {
      return parseSeed(seed)
    } catch (error) {
      return fail((error as Error).message)
    }
  })
  const size = request.size ?? bundle.sizes[0]
  if (!size) return fail('the model bundle lists no sizes')
  const f = bundle.vaeScaleFactor
  if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || size.width % f || size.height % f || size.width <= 0 || size.height <= 0) {
    fail(`size ${formatSize(size)} must be positive multiples of ${f}`)
  }
  if (!bundle.sizes.some((s) => s.width === size.width && s.height === size.height)) {
    fail(`size ${formatSize(size)} is not offered by this model; allowed: ${bundle.sizes.map(formatSize).join(', ')}`)
  }
  const outputFormat = request.outputFormat ?? 'png'
  if (!outputFormats.includes(outputFormat)) fail(`output format must be one of ${outputFormats.join(', ')}`)
  const rows = validateGuidance(bundle, request, prompts.length)
  const modes = new Set(rows.filter((r) => r.negative !== undefined).map((r) => callMode(r.guidance)))
  if (modes.size > 1) fail(`one call uses one guidance mode for its negative prompts, got ${[...modes].join(' and ')}`)
  return { prompts, seeds: parsedSeeds, rows, mode: [...modes][0] ?? 'none', size, outputFormat }
}

function validateGuidance(bundle: ModelBundle, request: GenerateRequest, count: number): ValidRequest['rows'] {
  const fail = (message: string): never => {
    throw new PipelineInputError(message)
  }
  const negatives = request.negativePrompts ?? []
  if (!Array.isArray(negatives) || negatives.length > count) fail(`at most one negative prompt per image (${count})`)
  const single: GuidanceSpec = Array.isArray(request.guidance) ? {} : (request.guidance ?? {})
  const specs: GuidanceSpec[] = Array.isArray(request.guidance) ? request.guidance : Array.from({ length: count }, () => single)
  if (specs.length !== count) fail(`guidance must be one object or one per image (${count}), got ${specs.length}`)
  const inRange = (name: string, value: number | undefined, [min, max]: readonly number[], fallback: number) => {
    const v = value ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v) || v < (min as number) || v > (max as number)) fail(`guidance ${name} must be a number from ${min} to ${max}`)
    return v
  }
  return specs.map((spec: GuidanceSpec, i) => {
    if (typeof spec !== 'object' || spec === null) fail(`guidance ${i} must be an object`)
    const raw = negatives[i]
    if (raw !== undefined && raw !== null && typeof raw !== 'string') fail(`negative prompt ${i} must be a string`)
    if (typeof raw === 'string' && raw.length > MAX_PROMPT_CHARS) fail(`negative prompt ${i} is ${raw.length} characters; the limit is ${MAX_PROMPT_CHARS}`)
    const negative = typeof raw === 'string' && raw.trim() !== '' ? raw : undefined
    const mode = spec.mode ?? 'nasa'
    if (!guidanceModes.includes(mode)) fail(`guidance mode must be one of ${guidanceModes.join(', ')}`)
    if (spec.projection !== undefined && mode !== 'nasa') fail(`guidance projection is a NASA setting; mode ${mode} has none`)
    let guidance: ResolvedGuidance
    switch (mode) {
      case 'nasa': {
        if (spec.projection !== undefined && typeof spec.projection !== 'boolean') fail('guidance projection must be true or false')
        const { projection, alpha } = nasaSettings(bundle, spec.projection)
        guidance = { mode, alpha: inRange('alpha', spec.alpha, guidanceLimits.nasa.alpha, alpha), projection }
        break
      }
      case 'nag': {
        const l = guidanceLimits.nag
        guidance = { mode, scale: inRange('scale', spec.scale, l.scale, l.scale[2]), tau: inRange('tau', spec.tau, l.tau, l.tau[2]), alpha: inRange('alpha', spec.alpha, l.alpha, l.alpha[2]) }
        break
      }
      case 'cfg':
        guidance = { mode, scale: inRange('scale', spec.scale, guidanceLimits.cfg.scale, guidanceLimits.cfg.scale[2]) }
        break
      default:
        guidance = { mode: 'none' }
    }
    // Without a negative prompt (or with mode none) the image is generated plainly.
    return negative === undefined || guidance.mode === 'none' ? { negative: undefined, guidance: { mode: 'none' } } : { negative, guidance }
  })
}
