import { z } from 'zod'

/**
 * One entry of `GET /internal/models` (and, as the edge passes it on, of `GET /v1/models`): the OpenAI
 * model object plus what clients need to call us. The GPU service writes it, the edge parses it.
 */
export const modelCardSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.number(),
  owned_by: z.string(),
  /** True once the bundle is loaded and warmed up. */
  ready: z.boolean(),
  display_name: z.string().optional(),
  version: z.string().optional(),
  sizes: z.array(z.string()).optional(),
  /** α of the default NASA form (with projection when `default_nasa_projection`). */
  default_nasa_alpha: z.number().optional(),
  default_nasa_projection: z.boolean().optional(),
})
export type ModelCard = z.infer<typeof modelCardSchema>

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelCardSchema) })
export type ModelList = z.infer<typeof modelListSchema>
