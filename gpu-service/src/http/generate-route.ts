import type { Context } from 'hono'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { parseSize, type ModelBundle } from '../bundle/load/model-bundle.ts'
import { generateBodySchema, type GenerateBody } from '../contract/generate-body.ts'
import { imagePart, META_PART, type GeneratedMeta } from '../contract/generated-images.ts'
import { MAX_INTERNAL_BODY_BYTES } from '../contract/limits.ts'
import { validateGeneration, type GenerationRequest } from '../generation/generation-request.ts'
import type { GenerationResult, ImageService } from '../service/image-service.ts'
import { BodyTooLargeError, InvalidRequestError, ModelLoadingError, ModelNotFoundError, ModelVersionMismatchError } from '../service/service-error.ts'

export interface GenerateRouteOptions {
  service: () => ImageService | undefined
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
 *
 * The body is parsed and validated here, once, into a GenerationRequest (the contract's schema, then
 * the checks that need the loaded bundle); the layers below take it as it is. Failures are thrown as
 * ServiceErrors and answered by the app's error handler (errors.ts).
 */
export function generateRoute({ service, modelId, defaultTimeoutMs }: GenerateRouteOptions): Hono {
  const app = new Hono()
  app.post(
    '/internal/generate',
    bodyLimit({
      maxSize: MAX_INTERNAL_BODY_BYTES,
      onError: () => {
        throw new BodyTooLargeError(MAX_INTERNAL_BODY_BYTES)
      },
    }),
    async (c) => {
      const body = await parseBody(c)
      if (body.model !== undefined && body.model !== modelId) throw new ModelNotFoundError(modelId, body.model)
      const images = service()
      if (!images) throw new ModelLoadingError()
      const request = toGenerationRequest(body, images.bundle, modelId)
      const result = await images.submit(request, { timeoutMs: body.timeout_ms ?? defaultTimeoutMs, signal: c.req.raw.signal })
      return multipartAnswer(modelId, result)
    },
  )
  return app
}

/** The body as the contract's schema parses it (prompts normalised, defaults in); else a 400. */
async function parseBody(c: Context): Promise<GenerateBody> {
  let raw: unknown
  try {
    raw = await c.req.json()
  } catch {
    throw new InvalidRequestError('the body is not valid JSON', 'invalid_json')
  }
  const parsed = generateBodySchema.safeParse(raw)
  if (!parsed.success) throw new InvalidRequestError(z.prettifyError(parsed.error).replaceAll('\n', ' '))
  return parsed.data
}

/**
 * The checks that need the loaded bundle: the model version the caller caches under (409), then
 * `validateGeneration` (sizes offered, guidance with the bundle's defaults; 400).
 */
function toGenerationRequest(body: GenerateBody, bundle: ModelBundle, modelId: string): GenerationRequest {
  if (body.model_version !== undefined && body.model_version !== bundle.version) throw new ModelVersionMismatchError(modelId, bundle.version, body.model_version)
  return validateGeneration(bundle, {
    prompt: body.prompt,
    negativePrompt: body.negative_prompt,
    n: body.n,
    seed: BigInt(body.seed),
    size: body.size === undefined ? undefined : parseSize(body.size),
    outputFormat: body.output_format,
    guidance: body.guidance,
  })
}

/** The `meta` part, one file part per image, and the seed, batch and timing headers. */
function multipartAnswer(modelId: string, result: GenerationResult): Response {
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
  const timing = (
    [
      ['queue', t.queue],
      ['tokenize', t.tokenize],
      ['text', t.textEncoder],
      ['unet', t.unet],
      ['vae', t.vae],
      ['encode', t.encode],
      ['total', t.total],
    ] as const
  )
    .map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`)
    .join(', ')
  return new Response(form, {
    headers: {
      'x-snoopi-seeds': meta.images.map((m) => m.seed).join(','),
      'x-snoopi-batch-images': String(result.batchImages),
      'server-timing': timing,
    },
  })
}
