import { z } from '@hono/zod-openapi'
import { errorBodySchema } from '@snoopi/gpu-service/contract/error-body'
import { GUIDANCE_MODES, guidanceFieldRange, guidanceLimits, MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS, NAG_DEFAULTS, CFG_DEFAULT_SCALE, OUTPUT_FORMATS, SEED_PATTERN, SIZE_PATTERN } from '@snoopi/gpu-service/contract/limits'

// Every limit and default here comes from the contract the GPU tier validates with (a test checks that
// nothing this schema admits is refused upstream).

/** Largest public request body, bytes. */
export const MAX_BODY_BYTES = 16 * 1024

export const guidanceSchema = z
  .strictObject({
    mode: z.enum(GUIDANCE_MODES).default('nasa').openapi({ description: 'How the negative prompt acts: NASA (default), NAG, the CFG baseline, or ignored' }),
    alpha: z
      .number()
      .min(guidanceFieldRange.alpha[0])
      .max(guidanceFieldRange.alpha[1])
      .optional()
      .openapi({ description: `NASA α (${guidanceLimits.nasa.alpha.join('–')}, default: the model's) or NAG α (${guidanceLimits.nag.alpha[0]}–${guidanceLimits.nag.alpha[1]}, default ${NAG_DEFAULTS.alpha})` }),
    projection: z
      .boolean()
      .optional()
      .openapi({ description: 'NASA with projection: each token loses only its part along the negative branch, α·max(0, ⟨Z+,Z−⟩/‖Z−‖²)·Z− (default: the model\'s, see /v1/models default_nasa_projection)' }),
    scale: z
      .number()
      .min(guidanceFieldRange.scale[0])
      .max(guidanceFieldRange.scale[1])
      .optional()
      .openapi({ description: `NAG φ (default ${NAG_DEFAULTS.scale}) or CFG scale (default ${CFG_DEFAULT_SCALE})` }),
    tau: z.number().min(guidanceFieldRange.tau[0]).max(guidanceFieldRange.tau[1]).optional().openapi({ description: `NAG τ (default ${NAG_DEFAULTS.tau})` }),
  })
  .openapi('Guidance')

/**
 * `POST /v1/images/generations`: OpenAI's Images API request plus our extensions. Unknown fields
 * that OpenAI clients send (`quality`, `style`, `user`) are accepted and ignored.
 */
export const generationRequestSchema = z
  .object({
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS).openapi({ example: 'a red circle and a blue square on a white background' }),
    model: z.string().min(1).optional().openapi({ description: 'Model id from /v1/models (default: the first)' }),
    n: z.number().int().min(1).max(MAX_IMAGES_PER_REQUEST).default(1),
    size: z.string().regex(SIZE_PATTERN, 'size must look like 512x512').optional().openapi({ description: 'One of the model\'s sizes (default: its first)' }),
    response_format: z.enum(['url', 'b64_json']).default('url'),
    quality: z.string().optional(),
    style: z.string().optional(),
    user: z.string().max(256).optional(),
    negative_prompt: z.string().max(MAX_PROMPT_CHARS).optional().openapi({ description: 'What to keep out of the image (NASA)' }),
    seed: z
      .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(SEED_PATTERN)])
      .optional()
      .openapi({ description: '0 … 2^64−1 (a string above 2^53); default: derived from the request, so the same request gives the same image' }),
    guidance: guidanceSchema.optional(),
    output_format: z.enum(OUTPUT_FORMATS).default('png'),
  })
  .openapi('ImageGenerationRequest')
export type GenerationRequest = z.infer<typeof generationRequestSchema>

export const imageDataSchema = z
  .object({
    url: z.string().optional(),
    b64_json: z.string().optional(),
    seed: z.string().openapi({ description: 'The seed of this image (decimal string)' }),
    revised_prompt: z.string().optional().openapi({ description: 'The prompt after normalisation' }),
    dropped_tokens: z.number().int().optional().openapi({ description: 'Prompt tokens past what the text encoder reads (CLIP: 75), which did not shape the image' }),
  })
  .openapi('Image')

export const generationResponseSchema = z.object({ created: z.number().int(), data: z.array(imageDataSchema) }).openapi('ImageGenerationResponse')

// The contract's shape, wrapped in this module's zod so that it can carry its OpenAPI name.
export const errorSchema = z.object(errorBodySchema.shape).openapi('Error')
