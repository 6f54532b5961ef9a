import type { GenerationRequest } from '../api/generation-schema.ts'
import { ApiError } from '../errors/api-error.ts'
import { CFG_DEFAULT_SCALE, guidanceLimits, NAG_DEFAULTS } from '@snoopi/gpu-service/contract/limits'
import { normalizePrompt } from '@snoopi/gpu-service/contract/normalize-prompt'
import { checkSeedRange, parseClientSeed } from './request-seed.ts'

/** The model a request resolved to (a `MODELS` entry). */
export interface CanonicalModel {
  id: string
  version: string
  sizes: readonly string[]
}

/**
 * How the negative prompt acts, with every default the edge knows filled in. NASA's α and projection
 * default to the model's own values, which the edge does not know: they stay absent unless given (the
 * model version in the key pins those defaults).
 */
export type CanonicalGuidance =
  | { mode: 'nasa'; alpha?: number; projection?: boolean }
  | { mode: 'nag'; scale: number; tau: number; alpha: number }
  | { mode: 'cfg'; scale: number }

/**
 * Everything that decides the images of a request, and nothing else (`response_format`, `user`,
 * `quality` and `style` do not change an image, so they are not here). `seed` is present only when
 * the client gave one; otherwise it is derived from the hash of this object.
 */
export interface CanonicalRequest {
  model: string
  version: string
  prompt: string
  negative_prompt?: string
  n: number
  size: string
  output_format: 'png' | 'webp' | 'jpeg'
  guidance?: CanonicalGuidance
  /** Decimal, 0 … 2^64 − 1. */
  seed?: string
}

/** NAG's α range is narrower than the public field's (which NASA shares). */
const NAG_MAX_ALPHA = guidanceLimits.nag.alpha[1]

/**
 * The canonical form of a validated request for `model`: prompts normalised (see `normalizePrompt`),
 * defaults filled in, ignored parts dropped. A negative prompt that is empty after normalisation, or
 * guidance mode `none`, means no negative prompt (the GPU service then renders the plain image), and
 * guidance is kept only with a negative prompt. Throws ApiError 400 for what the schema cannot see: a
 * prompt of only whitespace, a size the model does not offer, a seed past 2^64 − 1 (or one whose batch
 * would run past it), a NAG α above 1, a projection with a mode other than NASA.
 *
 * @example canonicalRequest({ prompt: ' a  cat ', n: 1, response_format: 'url', output_format: 'png' }, model)
 * // { model: 'snoopi-default', version: 'v1', prompt: 'a cat', n: 1, size: '64x64', output_format: 'png' }
 */
export function canonicalRequest(body: GenerationRequest, model: CanonicalModel): CanonicalRequest {
  const prompt = normalizePrompt(body.prompt)
  if (prompt === '') throw invalid('empty_prompt', 'prompt is empty after normalisation (whitespace and invisible characters removed)')

  const size = body.size ?? model.sizes[0]
  if (size === undefined || !model.sizes.includes(size)) {
    throw invalid('invalid_size', `size ${body.size} is not offered by ${model.id}; allowed: ${model.sizes.join(', ')}`)
  }

  const canonical: CanonicalRequest = { model: model.id, version: model.version, prompt, n: body.n, size, output_format: body.output_format }

  const negative = body.negative_prompt === undefined ? '' : normalizePrompt(body.negative_prompt)
  const guidance = negative === '' ? undefined : canonicalGuidance(body.guidance)
  if (guidance) {
    canonical.negative_prompt = negative
    canonical.guidance = guidance
  }

  if (body.seed !== undefined) {
    const seed = parseClientSeed(body.seed)
    checkSeedRange(seed, body.n)
    canonical.seed = seed.toString()
  }
  return canonical
}

/** The guidance of a request that has a negative prompt; undefined for mode `none` (no negative prompt). */
function canonicalGuidance(guidance: GenerationRequest['guidance']): CanonicalGuidance | undefined {
  const mode = guidance?.mode ?? 'nasa'
  if (guidance?.projection !== undefined && mode !== 'nasa') throw invalid('invalid_guidance', `guidance.projection is a NASA setting; mode ${mode} has none`)
  switch (mode) {
    case 'none':
      return undefined
    case 'nasa': {
      const nasa: CanonicalGuidance = { mode }
      if (guidance?.alpha !== undefined) nasa.alpha = guidance.alpha
      if (guidance?.projection !== undefined) nasa.projection = guidance.projection
      return nasa
    }
    case 'nag': {
      const alpha = guidance?.alpha ?? NAG_DEFAULTS.alpha
      if (alpha > NAG_MAX_ALPHA) throw invalid('invalid_guidance', `guidance.alpha must be at most ${NAG_MAX_ALPHA} for nag`)
      return { mode, scale: guidance?.scale ?? NAG_DEFAULTS.scale, tau: guidance?.tau ?? NAG_DEFAULTS.tau, alpha }
    }
    case 'cfg':
      return { mode, scale: guidance?.scale ?? CFG_DEFAULT_SCALE }
  }
}

/**
 * Deterministic JSON of a canonical request: keys sorted at every level, undefined members left out,
 * no whitespace. The input of the request hash.
 *
 * @example canonicalJson({ n: 1, model: 'm', … }) // '{"model":"m",…,"n":1,…}'
 */
export function canonicalJson(canonical: CanonicalRequest): string {
  return stableJson(canonical)
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`)
    return `{${members.join(',')}}`
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`not a JSON number: ${value}`)
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && value !== null) {
    throw new Error(`not a JSON value: ${typeof value}`)
  }
  return JSON.stringify(value)
}

function invalid(code: string, message: string): ApiError {
  return new ApiError(400, { code, message })
}
