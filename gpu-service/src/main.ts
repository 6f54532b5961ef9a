/** Entry point: `node gpu-service/src/main.ts`. Configuration comes from the environment (service-config.ts). */
import { ensureDefaultBundle } from './bundle/default-bundle.ts'
import { ConfigError, loadServiceConfig } from './config/service-config.ts'
import { startServer } from './http/server.ts'
import type { ServedModel } from './models/model-catalog.ts'
import { PipelineWorker } from './pipeline/pipeline-host.ts'

async function main(): Promise<void> {
  const config = loadServiceConfig()
  const model: ServedModel = { id: config.MODEL_ID, bundle: undefined, loadedAt: undefined }
  // Listen first: /healthz answers while the model loads, /readyz turns 200 when it has.
  const server = await startServer(config, model)
  console.log(`GPU service listening on ${server.url} (model ${config.MODEL_ID}, device ${config.DEVICE})`)

  const running: { pipeline?: PipelineWorker } = {}
  const stop = (signal: string) => {
    console.log(`${signal} received, closing`)
    Promise.all([server.close(), running.pipeline?.close()]).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('error while closing:', error)
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))

  const bundleDir = config.MODEL_DIR ?? ensureDefaultBundle(config.MODEL_CACHE_DIR)
  // The NASA UNet is built at start so the first negative prompt does not wait for it; NAG on first use.
  const pipeline = await PipelineWorker.start(bundleDir, {
    device: config.DEVICE,
    threads: config.ORT_THREADS,
    preloadGuidance: ['nasa'],
    nagNorm: config.NAG_NORM,
    cacheDir: config.MODEL_CACHE_DIR,
  })
  running.pipeline = pipeline
  const warm = await pipeline.generate({ prompts: ['warm-up'], seeds: [0] })
  model.bundle = pipeline.bundle
  model.loadedAt = new Date()
  console.log(`model ${config.MODEL_ID} ready: ${pipeline.bundle.displayName} from ${bundleDir} (warm-up ${Math.round(warm.timings.total)} ms)`)
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
