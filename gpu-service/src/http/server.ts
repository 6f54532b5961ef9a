import { serve, type ServerType } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import type { ServiceConfig } from '../config/service-config.ts'
import type { ServedModel } from '../models/model-catalog.ts'
import { createApp } from './app.ts'

export interface RunningServer {
  url: string
  close(): Promise<void>
}

/** Starts the HTTP server and resolves once it listens (port 0 picks a free port). */
export function startServer(config: ServiceConfig, model: ServedModel, log: (line: string) => void = console.log): Promise<RunningServer> {
  const app = createApp({ config, model, log })
  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address
      resolve({
        url: `http://${host}:${info.port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()))
          }),
      })
    })
    server.once('error', reject)
  })
}
