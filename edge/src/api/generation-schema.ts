import { z } from '@hono/zod-openapi'

/** Longest prompt or negative prompt, in characters (CLIP reads 75 tokens; the rest is dropped). */
export const MAX_PROMPT_CHARS = 2000
/** Largest request body, bytes. */
export const MAX_BODY_BYTES = 16 * 1024

export const guidanceSchema = z
  .strictObject({
    mode: z.enum(['nasa', 'nag', 'cfg', 'none']).default('nasa').openapi({ description: 'How the negative prompt acts: NASA (default), NAG, the CFG baseline, or ignored' }),
    alpha: z.number().min(0).max(2).optional().openapi({ description: 'NASA α (0–2, default: the model\'s) or NAG α (0–1, default 0.25)' }),
    projection: z
      .boolean()
      .optional()
      .openapi({ description: 'NASA with projection: each token loses only its part along the negative branch, α·max(0, ⟨Z+,Z−⟩/‖Z−‖²)·Z− (default: the model\'s, see /v1/models default_nasa_projection)' }),
    scale: z.number().min(1).max(20).optional().openapi({ description: 'NAG φ (default 5) or CFG scale (default 2)' }),
    tau: z.number().min(1).max(10).optional().openapi({ description: 'NAG τ (default 2.5)' }),
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
    n: z.number().int().min(1).max(4).default(1),
    size: z.string().regex(/^\d+x\d+$/, 'size must look like 512x512').optional().openapi({ description: 'One of the model\'s sizes (default: its first)' }),
    response_format: z.enum(['url', 'b64_json']).default('url'),
    quality: z.string().optional(),
    style: z.string().optional(),
    user: z.string().max(256).optional(),
    negative_prompt: z.string().max(MAX_PROMPT_CHARS).optional().openapi({ description: 'What to keep out of the image (NASA)' }),
    seed: z
      .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,20}$/)])
      .optional()
      .openapi({ description: '0 … 2^64−1 (a string above 2^53); default: derived from the request, so the same request gives the same image' }),
    guidance: guidanceSchema.optional(),
    output_format: z.enum(['png', 'webp', 'jpeg']).default('png'),
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

export const errorSchema = z
  .object({ error: z.object({ type: z.string(), message: z.string(), code: z.string() }) })
  .openapi('Error')
