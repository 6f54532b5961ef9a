import { Hono } from 'hono'
import { signedRequests } from '../auth/signed-requests.ts'
import type { ServiceConfig } from '../config/service-config.ts'
import { modelCard, type ServedModel } from '../models/model-catalog.ts'
import { errorResponse } from './errors.ts'
import { generateRoute } from './generate-route.ts'
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
 * The GPU service's HTTP surface.
 * - `GET /healthz`: the process is alive (no auth, for load balancers).
 * - `GET /readyz`: 200 once the model is loaded, 503 before (no auth, for the ALB's health check).
 * - `GET /metrics`: Prometheus text (queue depth, in-flight, batch sizes, stage latencies, errors).
 * - `GET /internal/models`: the models served here; signed by the edge.
 * - `POST /internal/generate`: images (see generate-route.ts); signed by the edge.
 */
export function createApp({ config, metrics, model, startedAt = new Date(), log = console.log }: AppDeps): Hono {
  const app = new Hono()

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', (c) => {
    if (model.draining) return c.json({ status: 'draining', model: model.id }, 503)
    return model.service ? c.json({ status: 'ready', model: model.id }) : c.json({ status: 'loading', model: model.id }, 503)
  })
  app.get('/metrics', async (c) => {
    model.service?.updateGauges()
    return c.body(await metrics.text(), 200, { 'content-type': metrics.contentType })
  })

  app.use(
    '/internal/*',
    signedRequests({
      secret: config.GPU_SERVICE_SECRET,
      windowSeconds: config.SIGNATURE_WINDOW_S,
      onReject: (reason, path) => log(`rejected unsigned request to ${path}: ${reason}`),
    }),
  )
  app.get('/internal/models', (c) => c.json({ object: 'list', data: [modelCard(model, startedAt)] }))
  app.route('/', generateRoute({ service: () => model.service, metrics, modelId: model.id, defaultTimeoutMs: config.REQUEST_TIMEOUT_MS }))

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`))
  app.onError((error, c) => {
    log(`unhandled error on ${c.req.method} ${c.req.path}: ${error.stack ?? String(error)}`)
    return errorResponse(c, 500, 'internal_error', 'internal error')
  })
  return app
}
