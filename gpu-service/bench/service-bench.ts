/**
 * `npm run bench:service`: the GPU service under load (autocannon, signed requests over real HTTP)
 * with a batch-size limit of 1 and of 4 at the same concurrency, each next to a direct-pipeline
 * baseline (the same worker called back to back with full batches), all in one process and run.
 */
import autocannon from 'autocannon'
import { parseArgs } from 'node:util'
import { benchBundle } from './bench-bundle.ts'
import { signRequest } from '../src/contract/request-signature.ts'
import { loadServiceConfig } from '../src/config/service-config.ts'
import { batchOf } from '../src/generation/batch.ts'
import { validateGeneration } from '../src/generation/generation-request.ts'
import { startServer } from '../src/http/server.ts'
import { ServiceMetrics } from '../src/metrics/service-metrics.ts'
import type { ServedModel } from '../src/bundle/load/model-catalog.ts'
import { PipelineWorker } from '../src/pipeline/pipeline-host.ts'
import { ImageService } from '../src/service/image-service.ts'

const usage = `Usage: npm run bench:service [-- --images N --connections C --size WxH --bundle DIR]

Each run makes N single-image requests (default 48) with C concurrent connections (default 8);
throughput is N / wall time, so no request is cut off at the end. Default size 256x256 on the
generated bench bundle.`
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '48' },
    connections: { type: 'string', default: '8' },
    size: { type: 'string', default: '256x256' },
    bundle: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const total = Number(values.images)
const connections = Number(values.connections)
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(connections) || connections < 1) {
  console.error(usage)
  process.exit(2)
}

const bundleDir = benchBundle(values.bundle)
const worker = await PipelineWorker.start(bundleDir, { log: () => {} })
const secret = 'b'.repeat(64)
const metrics = new ServiceMetrics({ defaultMetrics: false })
const model: ServedModel = { id: 'bench', loadedAt: new Date() }
const server = await startServer(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0', REQUEST_TIMEOUT_MS: '600000' }), model, metrics, () => {})
const [width, height] = values.size.split('x').map(Number) as [number, number]

/** The same N images straight through the worker, in full batches back to back. */
async function direct(batch: number, images = total): Promise<number> {
  const started = performance.now()
  for (let done = 0; done < images; done += batch) {
    const count = Math.min(batch, images - done)
    await worker.run(batchOf([validateGeneration(worker.bundle, { prompt: 'a red circle and a blue square', n: count, seed: BigInt(done), size: { width, height } })]))
  }
  return images / ((performance.now() - started) / 1000)
}

async function load(maxBatchSize: number) {
  model.service = new ImageService(worker, metrics, { maxBatchSize, maxDelayMs: 5, maxQueuedImages: 256 })
  const body = JSON.stringify({ prompt: 'a red circle and a blue square', seed: '1', size: values.size })
  // Every request needs its own signature (the service refuses a nonce it has seen): signed up front,
  // one handed out per request (autocannon builds a request a little more often than it sends one).
  const signed = await Promise.all(Array.from({ length: total + 4 * connections }, () => signRequest({ secret, method: 'POST', path: '/internal/generate', body })))
  const setupRequest = (request: autocannon.Request) => {
    const headers = signed.pop()
    if (!headers) throw new Error('service-bench: ran out of pre-signed requests')
    return { ...request, headers: { ...headers, 'content-type': 'application/json' } }
  }
  const started = performance.now()
  const result = await autocannon({ url: server.url, connections, amount: total, timeout: 600, requests: [{ method: 'POST', path: '/internal/generate', body, setupRequest }] })
  const seconds = (performance.now() - started) / 1000
  return { imagesPerSecond: result['2xx'] / seconds, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors }
}

// Warm-up, then each configuration next to its baseline.
await direct(1, 2)
const rows: string[] = []
for (const batch of [1, 4]) {
  console.error(`batch limit ${batch}: direct pipeline…`)
  const baseline = await direct(batch)
  console.error(`batch limit ${batch}: service under ${connections} connections…`)
  const service = await load(batch)
  rows.push(
    `| ${batch} | ${baseline.toFixed(2)} | ${service.imagesPerSecond.toFixed(2)} | ${(service.imagesPerSecond / baseline).toFixed(2)} | ${service.p50} | ${service.p99} | ${service.errors} |`,
  )
}
console.log(`\nGPU service under load: ${total} requests per run, ${connections} connections, ${values.size}, ${worker.bundle.displayName}, CPU\n`)
console.log('| batch limit | direct images/s | service images/s | service / direct | p50 ms | p99 ms | errors |')
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const row of rows) console.log(row)
await server.close()
await worker.close()
