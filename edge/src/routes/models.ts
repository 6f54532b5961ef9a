import { Hono } from 'hono'
import { z } from 'zod'
import type { EdgeEnv } from '../app.ts'
import { ApiError } from '../errors/api-error.ts'
import { callGpuService } from '../upstream/gpu-client.ts'

// Upstream answers are parsed, not trusted: a malformed list is an upstream error, not a 500.
const upstreamModels = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      created: z.number(),
      owned_by: z.string(),
      ready: z.boolean(),
      display_name: z.string().optional(),
      version: z.string().optional(),
      sizes: z.array(z.string()).optional(),
      default_nasa_alpha: z.number().optional(),
      default_nasa_projection: z.boolean().optional(),
    }),
  ),
})

/** `GET /v1/models`: the models the GPU tier serves, in the OpenAI list shape. */
export const modelRoutes = new Hono<EdgeEnv>().get('/v1/models', async (c) => {
  const response = await callGpuService(c.get('config'), {
    method: 'GET',
    path: '/internal/models',
    requestId: c.get('requestId'),
  })
  const parsed = upstreamModels.safeParse(await response.json().catch(() => undefined))
  if (!parsed.success) {
    throw new ApiError(502, {
      code: 'upstream_error',
      message: 'the image service sent an unexpected answer',
      internal: `GET /internal/models: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`,
    })
  }
  return c.json(parsed.data)
})
