/** Entry point: `node gpu-service/src/main.ts`. Configuration comes from the environment (service-config.ts). */
import { defaultBundleDir } from './bundle/load/default-bundle.ts'
import { loadBundle, nasaSettings } from './bundle/load/model-bundle.ts'
import { ConfigError, loadServiceConfig, type ServiceConfig } from './config/service-config.ts'
import { batchOf } from './generation/batch.ts'
import { validateGeneration } from './generation/generation-request.ts'
import { startServer } from './http/server.ts'
import { startEmfPublisher } from './metrics/emf-publisher.ts'
import { ServiceMetrics } from './metrics/service-metrics.ts'
import type { ServedModel } from './bundle/load/model-catalog.ts'
import { fetchBundleFromS3 } from './bundle/store/s3-model-store.ts'
import { PipelineWorker } from './pipeline/pipeline-host.ts'
import { ImageService } from './service/image-service.ts'

async function bundleDirectory(config: ServiceConfig): Promise<string> {
  if (config.MODEL_DIR) return config.MODEL_DIR
  if (config.MODEL_S3_URI) return fetchBundleFromS3({ uri: config.MODEL_S3_URI, cacheDir: config.MODEL_CACHE_DIR })
  return defaultBundleDir()
}

async function main(): Promise<void> {
  const config = loadServiceConfig()
  const metrics = new ServiceMetrics()
  const model: ServedModel = { id: config.MODEL_ID, loadedAt: undefined }
  // Listen first: /healthz answers while the model loads, /readyz turns 200 when it has.
  const server = await startServer(config, model, metrics)
  console.log(`GPU service listening on ${server.url} (model ${config.MODEL_ID}, device ${config.DEVICE}); metrics on ${server.metricsUrl}/metrics`)

  const running: { pipeline?: PipelineWorker } = {}
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    const deadline = config.SHUTDOWN_TIMEOUT_S * 1000
    console.log(`${signal} received: draining in-flight work (up to ${config.SHUTDOWN_TIMEOUT_S} s), then exiting`)
    model.draining = true
    const closed = server.close() // both listeners: the API and /metrics
    const finished = Promise.all([model.service?.batcher.drain(), closed])
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), deadline).unref())
    if ((await Promise.race([finished, timer])) === 'timeout') {
      console.error(`shutdown deadline passed with work in flight; closing connections`)
      server.closeAllConnections()
    }
    await running.pipeline?.close()
    console.log('stopped')
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))

  const bundleDir = await bundleDirectory(config)
  // The bundle's default NASA UNet (with projection when snoopi.json gives its α) is built at start so
  // the first negative prompt does not wait for it; the other form and NAG on first use.
  const pipeline = await PipelineWorker.start(bundleDir, {
    device: config.DEVICE,
    threads: config.ORT_THREADS,
    preloadGuidance: [nasaSettings(loadBundle(bundleDir)).projection ? 'nasa-proj' : 'nasa'],
    nagNorm: config.NAG_NORM,
    cacheDir: config.MODEL_CACHE_DIR,
  })
  running.pipeline = pipeline
  const warm = await pipeline.run(batchOf([validateGeneration(pipeline.bundle, { prompt: 'warm-up', seed: 0n })]))
  const service = new ImageService(pipeline, metrics, {
    maxBatchSize: config.MAX_BATCH_SIZE,
    maxDelayMs: config.BATCH_DELAY_MS,
    maxQueuedImages: config.MAX_QUEUE_IMAGES,
  })
  model.loadedAt = new Date()
  model.service = service
  if (config.METRICS_EMF) startEmfPublisher({ metrics, refresh: () => service.updateGauges(), environment: config.ENVIRONMENT })
  console.log(`model ${config.MODEL_ID} ready: ${pipeline.bundle.displayName} from ${bundleDir} (warm-up ${Math.round(warm.timings.total)} ms)`)
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
