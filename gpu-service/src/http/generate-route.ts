import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { ClientGoneError, DeadlineError, QueueFullError, ShuttingDownError } from '../batching/dynamic-batcher.ts'
import { parseSize } from '../bundle/model-bundle.ts'
import { MAX_SEED } from '../diffusion/seed.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import { guidanceModes, MAX_PROMPT_CHARS, outputFormats, PipelineInputError } from '../pipeline/generate-request.ts'
import type { ImageService } from '../service/image-service.ts'
import { normalizePrompt } from '../contract/normalize-prompt.ts'
import { errorResponse } from './errors.ts'

/** Largest request body accepted, bytes. */
export const MAX_BODY_BYTES = 64 * 1024

/**
 * The body of `POST /internal/generate`. Seeds are decimal strings (64-bit values do not fit a JSON
 * number); image i uses seed + i.
 */
export const generateBodySchema = z.strictObject({
  // The shared text policy, applied to whatever is sent: what the edge cached is what is rendered.
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
  n: z.number().int().min(1).max(4).default(1),
  seed: z
    .string()
    .regex(/^\d{1,20}$/, 'seed must be a decimal string')
    .refine((s) => BigInt(s) <= MAX_SEED, 'seed must be at most 2^64-1'),
  size: z.string().regex(/^\d+x\d+$/, 'size must look like 512x512').optional(),
  output_format: z.enum(outputFormats as [string, ...string[]]).default('png'),
  guidance: z
    .strictObject({
      mode: z.enum(guidanceModes as [string, ...string[]]).optional(),
      alpha: z.number().optional(),
      projection: z.boolean().optional(),
      scale: z.number().optional(),
      tau: z.number().optional(),
    })
    .optional(),
  model: z.string().optional(),
  /** The model version the caller caches the images under (the edge's MODELS entry); checked against the loaded bundle's. */
  model_version: z.string().min(1).max(200).optional(),
  timeout_ms: z.number().int().min(100).max(600_000).optional(),
})
export type GenerateBody = z.infer<typeof generateBodySchema>

export interface GenerateRouteOptions {
  service: () => ImageService | undefined
  metrics: ServiceMetrics
  modelId: string
  defaultTimeoutMs: number
}

/**
 * `POST /internal/generate` → `multipart/form-data`: a `meta` part (JSON: model, seeds, content types,
 * timings) and one `image-<i>` file part per image, in order. Headers: `x-snoopi-seeds` (comma
 * separated), `Server-Timing` (queue, tokenize, text, unet, vae, encode, total), `x-snoopi-batch-images`.
 * Errors: 400 bad input, 404 unknown model, 409 when `model_version` is not the loaded bundle's version
 * (the caller would cache these images under another model's name), 413 body too large, 503 +
 * Retry-After when the queue is full, loading or shutting down, 504 past the deadline.
 */
export function generateRoute({ service, metrics, modelId, defaultTimeoutMs }: GenerateRouteOptions): Hono {
  const app = new Hono()
  app.post(
    '/internal/generate',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorResponse(c, 413, 'body_too_large', `request body over ${MAX_BODY_BYTES} bytes`),
    }),
    async (c) => {
      const fail = (status: 400 | 404 | 409 | 499 | 500 | 503 | 504, code: string, message: string, kind: string) => {
        metrics.errors.inc({ kind })
        return errorResponse(c, status as 400, code, message)
      }
      let raw: unknown
      try {
        raw = await c.req.json()
      } catch {
        return fail(400, 'invalid_json', 'the body is not valid JSON', 'bad_request')
      }
      const parsed = generateBodySchema.safeParse(raw)
      if (!parsed.success) return fail(400, 'invalid_request', z.prettifyError(parsed.error).replaceAll('\n', ' '), 'bad_request')
      const body = parsed.data
      if (body.model !== undefined && body.model !== modelId) return fail(404, 'model_not_found', `this service serves "${modelId}", not "${body.model}"`, 'bad_request')
      const images = service()
      if (!images) {
        c.header('retry-after', '5')
        return fail(503, 'loading', 'the model is still loading', 'loading')
      }
      const served = images.bundle.version
      if (body.model_version !== undefined && body.model_version !== served) {
        return fail(409, 'model_version_mismatch', `this service serves "${modelId}" version "${served}", not "${body.model_version}" (the edge's MODELS names another version)`, 'version_mismatch')
      }
      try {
        const result = await images.generate(
          {
            prompt: body.prompt,
            negativePrompt: body.negative_prompt,
            n: body.n,
            seed: BigInt(body.seed),
            size: body.size ? parseSize(body.size) : undefined,
            outputFormat: body.output_format as 'png',
            guidance: body.guidance as never,
          },
          { timeoutMs: body.timeout_ms ?? defaultTimeoutMs, signal: c.req.raw.signal },
        )
        const form = new FormData()
        const meta = {
          model: modelId,
          images: result.images.map((image) => ({
            seed: image.seed.toString(),
            content_type: image.contentType,
            bytes: image.data.byteLength,
            width: image.width,
            height: image.height,
            dropped_tokens: image.droppedTokens,
          })),
          timings_ms: result.timings,
          batch_images: result.batchImages,
        }
        form.append('meta', new Blob([JSON.stringify(meta)], { type: 'application/json' }), 'meta.json')
        result.images.forEach((image, i) => {
          const ext = image.contentType.split('/')[1]
          form.append(`image-${i}`, new Blob([new Uint8Array(image.data)], { type: image.contentType }), `${i}.${ext}`)
        })
        const t = result.timings
        const timing = [
          ['queue', t.queue],
          ['tokenize', t.tokenize],
          ['text', t.textEncoder],
          ['unet', t.unet],
          ['vae', t.vae],
          ['encode', t.encode],
          ['total', t.total],
        ]
          .map(([name, ms]) => `${name};dur=${(ms as number).toFixed(1)}`)
          .join(', ')
        return new Response(form, {
          headers: {
            'x-snoopi-seeds': meta.images.map((m) => m.seed).join(','),
            'x-snoopi-batch-images': String(result.batchImages),
            'server-timing': timing,
          },
        })
      } catch (error) {
        if (error instanceof PipelineInputError) return fail(400, 'invalid_request', error.message, 'bad_request')
        if (error instanceof QueueFullError) {
          c.header('retry-after', String(error.retryAfterSeconds))
          return fail(503, 'queue_full', error.message, 'queue_full')
        }
        if (error instanceof ShuttingDownError) {
          c.header('retry-after', '5')
          return fail(503, 'shutting_down', error.message, 'shutting_down')
        }
        if (error instanceof DeadlineError) return fail(504, 'deadline_exceeded', error.message, 'deadline')
        if (error instanceof ClientGoneError) return fail(499, 'client_gone', error.message, 'client_gone')
        console.error('generation failed:', error)
        return fail(500, 'generation_failed', 'generation failed', 'internal')
      }
    },
  )
  return app
}
