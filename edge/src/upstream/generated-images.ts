import type { GenerateBodyInput } from '@snoopi/gpu-service/contract/generate-body'
import { generatedMetaSchema, imagePart, META_PART } from '@snoopi/gpu-service/contract/generated-images'
import { z } from 'zod'
import type { CanonicalRequest } from '../cache/canonical-request.ts'
import type { EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { callGpuService } from './gpu-client.ts'

export interface GeneratedImage {
  seed: string
  contentType: string
  bytes: Uint8Array
  /** Prompt tokens past the text encoder's 75 that the GPU tier cut (absent from older services). */
  droppedTokens?: number
}

/**
 * Reads the GPU service's `multipart/form-data` answer (the contract's `meta` part and `image-<i>`
 * file parts). Anything malformed is an upstream error (502), never a 500.
 */
export async function readGeneratedImages(response: Response, expected: number): Promise<GeneratedImage[]> {
  const bad = (internal: string) => new ApiError(502, { code: 'upstream_error', message: 'the image service sent an unexpected answer', internal })
  let form: FormData
  try {
    form = await response.formData()
  } catch (error) {
    throw bad(`generate: not multipart (${String(error)})`)
  }
  // workers-types declares FormData.get as string-only; file parts are Files at run time.
  const part = (name: string) => form.get(name) as unknown as File | string | null
  const metaPart = part(META_PART)
  if (metaPart === null || typeof metaPart === 'string') throw bad('generate: no meta part')
  let metaJson: unknown
  try {
    metaJson = JSON.parse(await metaPart.text())
  } catch {
    throw bad('generate: meta is not JSON')
  }
  const meta = generatedMetaSchema.safeParse(metaJson)
  if (!meta.success) throw bad(`generate: bad meta: ${z.prettifyError(meta.error).replaceAll('\n', ' ')}`)
  if (meta.data.images.length !== expected) throw bad(`generate: ${meta.data.images.length} images for ${expected} requested`)
  return Promise.all(
    meta.data.images.map(async (info, i) => {
      const file = part(imagePart(i))
      if (file === null || typeof file === 'string') throw bad(`generate: no part ${imagePart(i)}`)
      const bytes = new Uint8Array(await file.arrayBuffer())
      if (bytes.byteLength !== info.bytes) throw bad(`generate: ${imagePart(i)} has ${bytes.byteLength} bytes, meta says ${info.bytes}`)
      return { seed: info.seed, contentType: info.content_type, bytes, ...(info.dropped_tokens === undefined ? {} : { droppedTokens: info.dropped_tokens }) }
    }),
  )
}

/**
 * `POST /internal/generate` with a typed body: this client owns the wire format (JSON serialisation,
 * signing and retries in `callGpuService`, the multipart answer here), so callers pass the contract's
 * type, never a string.
 */
export async function requestImages(config: EdgeConfig, body: GenerateBodyInput, requestId: string): Promise<GeneratedImage[]> {
  const response = await callGpuService(config, { method: 'POST', path: '/internal/generate', body: JSON.stringify(body), requestId })
  return readGeneratedImages(response, body.n ?? 1)
}

/** The GPU service's request body for a canonical request (the contract's type). */
export function generateBodyFor(canonical: CanonicalRequest, firstSeed: bigint, timeoutMs: number): GenerateBodyInput {
  return {
    prompt: canonical.prompt,
    negative_prompt: canonical.negative_prompt,
    n: canonical.n,
    seed: firstSeed.toString(),
    size: canonical.size,
    output_format: canonical.output_format,
    guidance: canonical.guidance,
    model: canonical.model,
    // The GPU tier refuses (409) when it serves another version: these images are cached under this one.
    model_version: canonical.version,
    timeout_ms: timeoutMs,
  }
}
