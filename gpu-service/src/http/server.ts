import { serve, type ServerType } from '@hono/node-server'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ServiceConfig } from '../config/service-config.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import type { ServedModel } from '../bundle/load/model-catalog.ts'
import { createApp } from './app.ts'
import { createMetricsApp } from './metrics-app.ts'

export interface RunningServer {
  /** The API: /healthz, /readyz, /internal/* (PORT). */
  url: string
  /** The operational listener: /metrics (METRICS_PORT). */
  metricsUrl: string
  /** Stops accepting connections on both listeners; resolves when the open ones have finished. */
  close(): Promise<void>
  /** Cuts every remaining connection of both listeners (after a shutdown deadline). */
  closeAllConnections(): void
}

interface Listener {
  url: string
  close(): Promise<void>
  closeAllConnections(): void
}

/** One HTTP listener for `fetch` on host:port; resolves once it listens. */
function listen(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch, hostname, port }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address
      let closing: Promise<void> | undefined
      resolve({
        url: `http://${host}:${info.port}`,
        close: () =>
          (closing ??= new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()))
            // Idle keep-alive connections would otherwise hold close() open.
            ;(server as Server).closeIdleConnections()
          })),
        closeAllConnections: () => (server as Server).closeAllConnections(),
      })
    })
    server.once('error', reject)
  })
}

/**
 * Starts the API listener (PORT) and the metrics listener (METRICS_PORT), both on HOST, and
 * resolves once both listen (port 0 picks a free port). If the second cannot listen, the first is
 * closed again and the error rejects.
 */
export async function startServer(
  config: ServiceConfig,
  model: ServedModel,
  metrics: ServiceMetrics,
  log: (line: string) => void = console.log,
): Promise<RunningServer> {
  const api = await listen(createApp({ config, model, metrics, log }).fetch, config.HOST, config.PORT)
  let ops: Listener
  try {
    ops = await listen(createMetricsApp({ metrics, model }).fetch, config.HOST, config.METRICS_PORT)
  } catch (error) {
    await api.close()
    throw error
  }
  let closing: Promise<void> | undefined
  return {
    url: api.url,
    metricsUrl: ops.url,
    close: () => (closing ??= Promise.all([api.close(), ops.close()]).then(() => undefined)),
    closeAllConnections: () => {
      api.closeAllConnections()
      ops.closeAllConnections()
    },
  }
}
