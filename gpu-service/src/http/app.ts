import { Hono } from 'hono'
import { signedRequests } from '../auth/signed-requests.ts'
import type { ServiceConfig } from '../config/service-config.ts'
import { modelCard, type ServedModel } from '../bundle/load/model-catalog.ts'
import { errorHandler, errorResponse } from './errors.ts'
import { MAX_INTERNAL_BODY_BYTES } from '../contract/limits.ts'
import { generateRoute } from './generate-route.ts'
import { pathGuard } from './path-guard.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'

export interface AppDeps {
  config: ServiceConfig
  metrics: ServiceMetrics
  /** The served model; its bundle appears once loaded. */
  model: ServedModel
  startedAt?: Date
  log?: (line: string) => void
}

/**
 * The GPU service's HTTP surface on its main port (PORT; `/metrics` has its own, see metrics-app.ts).
 * - `GET /healthz`: the process is alive (no auth, for load balancers).
 * - `GET /readyz`: 200 once the model is loaded, 503 before (no auth, for the ALB's health check).
 * - `GET /internal/models`: the models served here; signed by the edge.
 * - `POST /internal/generate`: images (see generate-route.ts); signed by the edge.
 * Targets with dot segments or encoded slashes are refused (400) before routing (path-guard.ts).
 */
export function createApp({ config, metrics, model, startedAt = new Date(), log = console.log }: AppDeps): Hono {
  const app = new Hono()

  app.use(pathGuard())
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', (c) => {
    if (model.draining) return c.json({ status: 'draining', model: model.id }, 503)
    return model.service ? c.json({ status: 'ready', model: model.id }) : c.json({ status: 'loading', model: model.id }, 503)
  })

  app.use(
    '/internal/*',
    signedRequests({
      secret: config.GPU_SERVICE_SECRET,
      maxBodyBytes: MAX_INTERNAL_BODY_BYTES,
      windowSeconds: config.SIGNATURE_WINDOW_S,
      onReject: (reason, path) => log(`rejected request to ${path}: ${reason}`),
    }),
  )
  app.get('/internal/models', (c) => c.json({ object: 'list', data: [modelCard(model, startedAt)] }))
  app.route('/', generateRoute({ service: () => model.service, modelId: model.id, defaultTimeoutMs: config.REQUEST_TIMEOUT_MS }))

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`))
  app.onError(errorHandler({ metrics, log }))
  return app
}
