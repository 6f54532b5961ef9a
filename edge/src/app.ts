import { Hono } from 'hono'
import { edgeConfig, type EdgeBindings, type EdgeConfig } from './config/edge-config.ts'
import { ApiError } from './errors/api-error.ts'
import { errorHandler, notFoundHandler } from './errors/error-handler.ts'
import { requestId, type RequestIdVariables } from './middleware/request-id/index.ts'
import { healthRoutes } from './routes/health.ts'
import { modelRoutes } from './routes/models.ts'

export type EdgeEnv = { Bindings: EdgeBindings; Variables: RequestIdVariables & { config: EdgeConfig } }

/** The public edge app: request ids everywhere, health without config, everything else with it. */
export function createApp(): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>()
  app.use(requestId())
  app.route('/', healthRoutes)

  app.use('/v1/*', async function withConfig(c, next) {
    const result = edgeConfig(c.env)
    if (!result.ok) {
      throw new ApiError(500, {
        code: 'misconfigured',
        message: 'the service is misconfigured',
        internal: `bad bindings: ${result.problems.join('; ')}`,
      })
    }
    c.set('config', result.config)
    await next()
  })
  app.route('/', modelRoutes)

  app.notFound(notFoundHandler)
  app.onError(errorHandler)
  return app
}
