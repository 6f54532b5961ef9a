import { serve, type ServerType } from '@hono/node-server'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ServiceConfig } from '../config/service-config.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import type { ServedModel } from '../models/model-catalog.ts'
import { createApp } from './app.ts'

export interface RunningServer {
  url: string
  /** Stops accepting connections; resolves when the open ones have finished. */
  close(): Promise<void>
  /** Cuts every remaining connection (after a shutdown deadline). */
  closeAllConnections(): void
}

/** Starts the HTTP server and resolves once it listens (port 0 picks a free port). */
export function startServer(
  config: ServiceConfig,
  model: ServedModel,
  metrics: ServiceMetrics,
  log: (line: string) => void = console.log,
): Promise<RunningServer> {
  const app = createApp({ config, model, metrics, log })
  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info: AddressInfo) => {
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
