import { Hono, type Context } from 'hono'
import type { EdgeEnv } from '../edge-env.ts'
import { ApiError } from '../errors/api-error.ts'
import type { ModelList } from '@snoopi/gpu-service/contract/model-card'
import { modelCatalog } from '../models/model-catalog.ts'

/** The isolate's cached list, and a `Cache-Control` for an answer made of it (ends when the isolate's copy does). */
async function cachedList(c: Context<EdgeEnv>): Promise<{ list: ModelList; cacheControl: string }> {
  const { list, maxAgeSeconds } = await modelCatalog.list(c.get('config'), c.get('requestId'))
  return { list, cacheControl: `public, max-age=${maxAgeSeconds}` }
}

/**
 * - `GET /v1/models`: the models the GPU tier serves, in the OpenAI list shape;
 * - `GET /v1/models/{id}`: one of them (the OpenAI client's `models.retrieve`), or 404 `model_not_found`.
 *
 * Public, so both answer from the per-isolate `modelCatalog` (at most one GPU call per TTL) and tell
 * clients and CDNs to keep the answer as long; errors carry no Cache-Control.
 */
export const modelRoutes = new Hono<EdgeEnv>()
  .get('/v1/models', async (c) => {
    const { list, cacheControl } = await cachedList(c)
    return c.json(list, 200, { 'Cache-Control': cacheControl })
  })
  .get('/v1/models/:id', async (c) => {
    const id = c.req.param('id')
    const { list, cacheControl } = await cachedList(c)
    const model = list.data.find((m) => m.id === id)
    if (!model) throw new ApiError(404, { code: 'model_not_found', message: `The model '${id}' does not exist; see /v1/models.` })
    return c.json(model, 200, { 'Cache-Control': cacheControl })
  })
