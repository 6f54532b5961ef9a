import { z } from 'zod'
import { SEED_PATTERN } from './limits.ts'

/**
 * The `meta` part of `POST /internal/generate`'s `multipart/form-data` answer; one `image-<i>` file
 * part per image follows, in order. The GPU service writes it, the edge parses it.
 */
export const generatedMetaSchema = z.object({
  model: z.string(),
  images: z
    .array(
      z.object({
        seed: z.string().regex(SEED_PATTERN),
        content_type: z.string(),
        bytes: z.number().int().nonnegative(),
        width: z.number().int().positive().optional(),
        height: z.number().int().positive().optional(),
        /** Prompt tokens past the text encoder's 75 that were cut. */
        dropped_tokens: z.number().int().nonnegative().optional(),
      }),
    )
    .min(1),
  /** Stage timings of the call, milliseconds. */
  timings_ms: z.record(z.string(), z.number()).optional(),
  /** Images in the UNet batch this request rode in. */
  batch_images: z.number().int().positive().optional(),
})
export type GeneratedMeta = z.infer<typeof generatedMetaSchema>

/** Name of the meta part and of image i's part. */
export const META_PART = 'meta'
export const imagePart = (i: number) => `image-${i}`
