import { z } from 'zod'
import { ApiError } from '../errors/api-error.ts'

const metaSchema = z.object({
  model: z.string(),
  images: z
    .array(
      z.object({
        seed: z.string().regex(/^\d+$/),
        content_type: z.string(),
        bytes: z.number().int().nonnegative(),
        dropped_tokens: z.number().int().nonnegative().optional(),
      }),
    )
    .min(1),
})

export interface GeneratedImage {
  seed: string
  contentType: string
  bytes: Uint8Array
  /** Prompt tokens past the text encoder's 75 that the GPU tier cut (absent from older services). */
  droppedTokens?: number
}

/**
 * Reads the GPU service's `multipart/form-data` answer (a `meta` JSON part and `image-<i>` file
 * parts, see gpu-service/src/http/generate-route.ts). Anything malformed is an upstream error (502),
 * never a 500.
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
  const metaPart = part('meta')
  if (metaPart === null || typeof metaPart === 'string') throw bad('generate: no meta part')
  const meta = metaSchema.safeParse(JSON.parse(await metaPart.text()))
  if (!meta.success) throw bad(`generate: bad meta: ${z.prettifyError(meta.error).replaceAll('\n', ' ')}`)
  if (meta.data.images.length !== expected) throw bad(`generate: ${meta.data.images.length} images for ${expected} requested`)
  return Promise.all(
    meta.data.images.map(async (info, i) => {
      const file = part(`image-${i}`)
      if (file === null || typeof file === 'string') throw bad(`generate: no part image-${i}`)
      const bytes = new Uint8Array(await file.arrayBuffer())
      if (bytes.byteLength !== info.bytes) throw bad(`generate: image-${i} has ${bytes.byteLength} bytes, meta says ${info.bytes}`)
      return { seed: info.seed, contentType: info.content_type, bytes, ...(info.dropped_tokens === undefined ? {} : { droppedTokens: info.dropped_tokens }) }
    }),
  )
}
