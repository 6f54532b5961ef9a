import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { ClientGoneError, DeadlineError, QueueFullError, ShuttingDownError } from '../batching/dynamic-batcher.ts'
import { parseSize } from '../bundle/model-bundle.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import { PipelineInputError } from '../pipeline/generate-request.ts'
import type { ImageService } from '../service/image-service.ts'
import { generateBodySchema } from '../contract/generate-body.ts'
import { imagePart, META_PART, type GeneratedMeta } from '../contract/generated-images.ts'
import { MAX_INTERNAL_BODY_BYTES } from '../contract/limits.ts'
import { errorResponse } from './errors.ts'

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
      maxSize: MAX_INTERNAL_BODY_BYTES,
      onError: (c) => errorResponse(c, 413, 'body_too_large', `request body over ${MAX_INTERNAL_BODY_BYTES} bytes`),
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
            outputFormat: body.output_format,
            guidance: body.guidance,
          },
          { timeoutMs: body.timeout_ms ?? defaultTimeoutMs, signal: c.req.raw.signal },
        )
        const form = new FormData()
        const meta: GeneratedMeta = {
          model: modelId,
          images: result.images.map((image) => ({
            seed: image.seed.toString(),
            content_type: image.contentType,
            bytes: image.data.byteLength,
            width: image.width,
            height: image.height,
            dropped_tokens: image.droppedTokens,
          })),
          timings_ms: { ...result.timings },
          batch_images: result.batchImages,
        }
        form.append(META_PART, new Blob([JSON.stringify(meta)], { type: 'application/json' }), 'meta.json')
        result.images.forEach((image, i) => {
          const ext = image.contentType.split('/')[1]
          form.append(imagePart(i), new Blob([new Uint8Array(image.data)], { type: image.contentType }), `${i}.${ext}`)
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
