/** Entry point: `node gpu-service/src/main.ts`. Configuration comes from the environment (service-config.ts). */
import { ConfigError, loadServiceConfig } from './config/service-config.ts'
import { startServer } from './http/server.ts'

async function main(): Promise<void> {
  const config = loadServiceConfig()
  const server = await startServer(config)
  console.log(`GPU service listening on ${server.url} (model ${config.MODEL_ID})`)

  const stop = (signal: string) => {
    console.log(`${signal} received, closing`)
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('error while closing:', error)
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
