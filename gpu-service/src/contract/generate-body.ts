import { z } from 'zod'
import { GENERATION_TIMEOUT_MS, GUIDANCE_MODES, guidanceLimits, type GuidanceMode, MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS, MAX_SEED, OUTPUT_FORMATS, SEED_PATTERN, SIZE_PATTERN } from './limits.ts'
import { normalizePrompt } from './normalize-prompt.ts'

/**
 * The body of the GPU service's `POST /internal/generate`, as the edge sends it and the service parses
 * it (once, at its HTTP edge). Seeds are decimal strings; image i uses seed + i. Prompts go through
 * the shared text policy again, so what the edge cached is what is rendered. Guidance values are
 * checked against their mode's range (`guidanceProblem`); NASA's default α comes from the loaded bundle.
 */
export const generateBodySchema = z.strictObject({
  prompt: z
    .string()
    .max(MAX_PROMPT_CHARS)
    .transform(normalizePrompt)
    .refine((prompt) => prompt !== '', 'prompt is empty after normalisation'),
  negative_prompt: z
    .string()
    .max(MAX_PROMPT_CHARS)
    .transform((text) => normalizePrompt(text) || undefined)
    .optional(),
  n: z.number().int().min(1).max(MAX_IMAGES_PER_REQUEST).default(1),
  seed: z
    .string()
    .regex(SEED_PATTERN, 'seed must be a decimal string')
    .refine((s) => BigInt(s) <= MAX_SEED, 'seed must be at most 2^64-1'),
  size: z.string().regex(SIZE_PATTERN, 'size must look like 512x512').optional(),
  output_format: z.enum(OUTPUT_FORMATS).default('png'),
  guidance: z
    .strictObject({
      mode: z.enum(GUIDANCE_MODES).optional(),
      alpha: z.number().optional(),
      projection: z.boolean().optional(),
      scale: z.number().optional(),
      tau: z.number().optional(),
    })
    .superRefine((guidance, ctx) => {
      const problem = guidanceProblem(guidance)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    })
    .optional(),
  model: z.string().optional(),
  /** The model version the caller caches the images under (the edge's MODELS entry); checked against the loaded bundle's. */
  model_version: z.string().min(1).max(200).optional(),
  timeout_ms: z.number().int().min(GENERATION_TIMEOUT_MS.min).max(GENERATION_TIMEOUT_MS.max).optional(),
})

/** A parsed body (prompts normalised, defaults filled in). */
export type GenerateBody = z.output<typeof generateBodySchema>
/** What a caller writes (the edge's upstream client builds this type and owns its serialisation). */
export type GenerateBodyInput = z.input<typeof generateBodySchema>

/** The fields each guidance mode reads, with their `[min, max, …]` ranges. */
const modeFields: Record<GuidanceMode, Partial<Record<'alpha' | 'scale' | 'tau', readonly number[]>>> = {
  nasa: guidanceLimits.nasa,
  nag: guidanceLimits.nag,
  cfg: guidanceLimits.cfg,
  none: {},
}

/**
 * What is wrong with a guidance object, if anything: a value outside its mode's range, or a
 * projection with a mode other than NASA. Fields a mode does not read are ignored (the edge drops
 * them from the canonical request).
 *
 * @example guidanceProblem({ mode: 'nag', alpha: 1.5 }) // 'guidance alpha must be a number from 0 to 1 for nag'
 */
export function guidanceProblem(guidance: { mode?: GuidanceMode; alpha?: number; projection?: boolean; scale?: number; tau?: number }): string | undefined {
  const mode = guidance.mode ?? 'nasa'
  if (guidance.projection !== undefined && mode !== 'nasa') return `guidance projection is a NASA setting; mode ${mode} has none`
  for (const [field, range] of Object.entries(modeFields[mode]) as ['alpha' | 'scale' | 'tau', readonly number[]][]) {
    const value = guidance[field]
    if (value === undefined) continue
    const [min, max] = range as [number, number]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) return `guidance ${field} must be a number from ${min} to ${max} for ${mode}`
  }
  return undefined
}
