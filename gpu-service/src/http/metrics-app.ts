import { Hono } from 'hono'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import type { ServedModel } from '../bundle/load/model-catalog.ts'
import { errorResponse } from './errors.ts'

/**
 * The operational listener (METRICS_PORT): `GET /metrics`, Prometheus text (queue depth, in-flight,
 * batch sizes, stage latencies, errors), and nothing else. It is a separate port so that the public
 * path to the service (the load balancer forwards to PORT) cannot reach it by any spelling of the
 * URL, and so that a firewall rule, not a route, decides who may scrape.
 */
export function createMetricsApp({ metrics, model }: { metrics: ServiceMetrics; model: ServedModel }): Hono {
  const app = new Hono()
  app.get('/metrics', async (c) => {
    model.service?.updateGauges()
    return c.body(await metrics.text(), 200, { 'content-type': metrics.contentType })
  })
  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`))
  return app
}
