import { z } from 'zod'
import { GENERATION_TIMEOUT_MS, GUIDANCE_MODES, MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS, MAX_SEED, OUTPUT_FORMATS, SEED_PATTERN, SIZE_PATTERN } from './limits.ts'
import { normalizePrompt } from './normalize-prompt.ts'

/**
 * The body of the GPU service's `POST /internal/generate`, as the edge sends it and the service parses
 * it (once, at its HTTP edge). Seeds are decimal strings; image i uses seed + i. Prompts go through
 * the shared text policy again, so what the edge cached is what is rendered. Ranges of the guidance
 * values depend on the mode and are checked with the loaded bundle (`guidanceLimits`).
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
