import { OpenAPIHono } from '@hono/zod-openapi'
import { MAX_BODY_BYTES } from './api/generation-schema.ts'
import { describeApi, openApiDocument } from './api/openapi-document.ts'
import { botLinkRoute, botLinkRoutes, botRoutes } from './bots/bot-routes.ts'
import { edgeConfig } from './config/edge-config.ts'
import { ApiError } from './errors/api-error.ts'
import { errorHandler, notFoundHandler } from './errors/error-handler.ts'
import { apiKeyAuth } from './middleware/api-key-auth/index.ts'
import { apiCors } from './middleware/cors/index.ts'
import { jsonBody } from './middleware/json-body/index.ts'
import { rateLimit } from './middleware/rate-limit/index.ts'
import { requestId } from './middleware/request-id/index.ts'
import { ADMIN_MAX_BODY_BYTES, adminKeyRoutes } from './routes/admin-keys.ts'
import { generationRoutes, lookUpHit, validateGeneration, validationHook } from './routes/generations.ts'
import { healthRoutes } from './routes/health.ts'
import { pageRoutes } from './routes/pages.ts'
import { imageRoutes } from './routes/images.ts'
import { modelRoutes } from './routes/models.ts'
import { usageRoutes } from './routes/usage.ts'
import { idempotency } from './idempotency/idempotency.ts'
import { jobRoutes } from './jobs/job-routes.ts'
import { cancelJobRoute, getJobRoute, listJobsRoute, submitJobRoute, webhookSecretRoute } from './jobs/job-schema.ts'
import { validateJob } from './jobs/job-submission.ts'
import type { EdgeEnv } from './edge-env.ts'

/**
 * The public edge app. Order on the generation route: JSON content type and no content coding (415)
 * → body size cap (413) → body validation, model and size checks (400/404), once → API key (401;
 * malformed keys never touch storage) → rate limits (429) → cache / coordinator / GPU tier. Every response carries x-request-id; errors use the OpenAI shape.
 */
export function createApp(): OpenAPIHono<EdgeEnv> {
  const app = new OpenAPIHono<EdgeEnv>({ defaultHook: validationHook })
  app.use(requestId())
  // Before configuration and keys: a browser's preflight never costs a lookup, and errors carry CORS too.
  app.use('/v1/*', apiCors())
  app.route('/', healthRoutes)
  // The landing page, the playground and the docs: static files, no configuration needed.
  app.route('/', pageRoutes)

  // /healthz is answered above and never reaches this: health does not depend on configuration.
  app.use('*', async function withConfig(c, next) {
    const result = edgeConfig(c.env)
    if (!result.ok) {
      throw new ApiError(500, { code: 'misconfigured', message: 'the service is misconfigured', internal: `bad bindings: ${result.problems.join('; ')}` })
    }
    c.set('config', result.config)
    await next()
  })

  app.on(
    'POST',
    '/v1/images/generations',
    jsonBody({ maxBytes: MAX_BODY_BYTES }),
    validateGeneration,
    // One Durable Object call authenticates, checks the scope and admits (rate limit, concurrency); for a
    // request the cache answers (looked up first), it also counts the hit, and nothing is settled after.
    apiKeyAuth({ admitFor: 'images:generate', lookUpHit }),
    rateLimit(),
    idempotency('generations'),
  )
  app.route('/', generationRoutes)
  // Jobs: the same gate as a generation, then the job's own Idempotency-Key space.
  app.on('POST', '/v1/jobs', jsonBody({ maxBytes: MAX_BODY_BYTES }), validateJob, apiKeyAuth({ admitFor: 'images:generate' }), rateLimit(), idempotency('jobs'))
  app.route('/', jobRoutes)
  app.route('/', imageRoutes)
  app.route('/', modelRoutes)
  app.route('/', usageRoutes)
  // Chat bots: platform webhooks (404 while a platform's settings are absent) and link codes.
  app.route('/', botRoutes)
  app.route('/', botLinkRoutes)
  app.on('POST', '/admin/keys', jsonBody({ maxBytes: ADMIN_MAX_BODY_BYTES }))
  app.route('/', adminKeyRoutes)

  describeApi(app)
  for (const route of [submitJobRoute, listJobsRoute, getJobRoute, cancelJobRoute, webhookSecretRoute]) app.openAPIRegistry.registerPath(route)
  app.openAPIRegistry.registerPath(botLinkRoute)
  app.get('/openapi.json', (c) => c.json(openApiDocument(app)))

  app.notFound(notFoundHandler)
  app.onError(errorHandler)
  return app
}
