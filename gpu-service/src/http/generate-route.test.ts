import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from '../config/service-config.ts'
import { ServiceMetrics } from '../metrics/service-metrics.ts'
import type { ServedModel } from '../bundle/load/model-catalog.ts'
import { PipelineWorker } from '../pipeline/pipeline-host.ts'
import { ImageService } from '../service/image-service.ts'
import { testBundle } from '../testing/bundles.ts'
import { readImages, signedFetch } from '../testing/signed-fetch.ts'
import { startServer, type RunningServer } from './server.ts'

const secret = 'g'.repeat(64)
let server: RunningServer
let worker: PipelineWorker
let metrics: ServiceMetrics
const model: ServedModel = { id: 'tiny-test', loadedAt: undefined }

/** Swaps in a service with other batching limits (same worker, fresh metrics view). */
function useService(options: { maxBatchSize: number; maxDelayMs: number; maxQueuedImages: number }) {
  model.service = new ImageService(worker, metrics, options)
  return model.service
}

beforeAll(async () => {
  worker = await PipelineWorker.start(testBundle('tiny'), { threads: 1, preloadGuidance: ['nasa'], log: () => {} })
  metrics = new ServiceMetrics({ defaultMetrics: false })
  useService({ maxBatchSize: 4, maxDelayMs: 5, maxQueuedImages: 32 })
  server = await startServer(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0' }), model, metrics, () => {})
})
afterAll(async () => {
  await server.close()
  await worker.close()
})

const generate = (body: unknown, options: { secret?: string; now?: number } = {}) =>
  signedFetch(server.url, '/internal/generate', { secret: options.secret ?? secret, body, now: options.now })

describe('POST /internal/generate', () => {
  it('returns the images as multipart with seeds and timings', async () => {
    const response = await generate({ prompt: 'a red circle', n: 2, seed: '18446744073709551614' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^multipart\/form-data; boundary=/)
    expect(response.headers.get('x-snoopi-seeds')).toBe('18446744073709551614,18446744073709551615')
    expect(response.headers.get('server-timing')).toMatch(/queue;dur=[\d.]+, tokenize;dur=[\d.]+, text;dur=[\d.]+, unet;dur=[\d.]+, vae;dur=[\d.]+, encode;dur=[\d.]+, total;dur=[\d.]+/)
    const { meta, images } = await readImages(response)
    expect(meta.images.map((m) => m.seed)).toEqual(['18446744073709551614', '18446744073709551615'])
    expect(images).toHaveLength(2)
    for (const image of images) expect(await sharp(image).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 })
  })

  it('is deterministic: the same body gives the same bytes', async () => {
    const body = { prompt: 'a blue square', seed: '99', output_format: 'webp' }
    const [a, b] = [await readImages(await generate(body)), await readImages(await generate(body))]
    expect(Buffer.from(a.images[0]!).equals(Buffer.from(b.images[0]!))).toBe(true)
    expect(a.meta.images[0]!.content_type).toBe('image/webp')
  })

  it('applies a negative prompt (NASA) and keeps the seed', async () => {
    const plain = await readImages(await generate({ prompt: 'a red circle', seed: '7' }))
    const guided = await readImages(await generate({ prompt: 'a red circle', seed: '7', negative_prompt: 'red', guidance: { mode: 'nasa', alpha: 0.9 } }))
    expect(Buffer.from(plain.images[0]!).equals(Buffer.from(guided.images[0]!))).toBe(false)
  })

  it('applies the shared text policy: an invisible-only prompt is a 400, an invisible negative prompt is none', async () => {
    const empty = await generate({ prompt: '\ufeff \u200b', seed: '1' })
    expect(empty.status).toBe(400)
    expect(await empty.text()).toMatch(/empty after normalisation/)
    const plain = await readImages(await generate({ prompt: 'a red circle', seed: '8' }))
    const invisible = await readImages(await generate({ prompt: '\ufeffa  red\u200b circle', seed: '8', negative_prompt: '\ufeff', guidance: { mode: 'nasa', alpha: 0.9 } }))
    expect(Buffer.from(invisible.images[0]!).equals(Buffer.from(plain.images[0]!))).toBe(true)
  })

  it.each([
    ['a wrong secret', { secret: 'h'.repeat(64) }],
    ['a stale timestamp', { now: Date.now() - 6 * 60_000 }],
  ])('answers 401 to %s', async (_name, options) => {
    const response = await generate({ prompt: 'x', seed: '1' }, options)
    expect(response.status).toBe(401)
  })

  it.each([
    ['not JSON', '{"prompt": ', /the body is not valid JSON/],
    ['no prompt', { seed: '1' }, /prompt/],
    ['n above 4', { prompt: 'x', seed: '1', n: 5 }, /n/],
    ['a seed that is not a decimal string', { prompt: 'x', seed: 12 }, /seed/],
    ['a seed above 2^64-1', { prompt: 'x', seed: '18446744073709551616' }, /seed must be at most 2\^64-1/],
    ['an unknown field', { prompt: 'x', seed: '1', steps: 4 }, /steps/],
    ['a size the model does not offer', { prompt: 'x', seed: '1', size: '512x512' }, /not offered by this model; allowed: 64x64/],
    ['α out of range', { prompt: 'x', seed: '1', negative_prompt: 'y', guidance: { alpha: 9 } }, /guidance alpha must be a number from 0 to 2/],
  ])('answers 400 to %s, with a clear message', async (_name, body, message) => {
    const response = await generate(body)
    expect(response.status).toBe(400)
    const error = ((await response.json()) as { error: { message: string; type: string } }).error
    expect(error.type).toBe('invalid_request_error')
    expect(error.message).toMatch(message)
  })

  it('answers 409 when model_version is not the loaded bundle\'s version, and generates when it is', async () => {
    const served = model.service!.bundle.version
    const wrong = await generate({ prompt: 'x', seed: '1', model_version: `${served}-other` })
    expect(wrong.status).toBe(409)
    const error = ((await wrong.json()) as { error: { code: string; message: string } }).error
    expect(error.code).toBe('model_version_mismatch')
    expect(error.message).toContain(`version "${served}", not "${served}-other"`)
    expect((await generate({ prompt: 'x', seed: '1', model_version: served })).status).toBe(200)
  })

  it('answers 413 to a body over 64 KiB', async () => {
    const response = await generate({ prompt: 'x'.repeat(70_000), seed: '1' })
    expect(response.status).toBe(413)
  })

  it('batches concurrent requests into one UNet call', async () => {
    useService({ maxBatchSize: 4, maxDelayMs: 200, maxQueuedImages: 32 })
    const responses = await Promise.all([1, 2, 3, 4].map((i) => generate({ prompt: `batch ${i}`, seed: String(i) })))
    expect(responses.map((r) => r.headers.get('x-snoopi-batch-images'))).toEqual(['4', '4', '4', '4'])
    // Each request still gets its own image: the seeds come back in order.
    expect(responses.map((r) => r.headers.get('x-snoopi-seeds'))).toEqual(['1', '2', '3', '4'])
  })

  it('sheds load with 503 + Retry-After when the queue is full, and answers every request exactly once', async () => {
    useService({ maxBatchSize: 1, maxDelayMs: 0, maxQueuedImages: 2 })
    const bodies = Array.from({ length: 12 }, (_, i) => ({ prompt: 'load', seed: String(100 + i), n: 1, size: '128x128' }))
    const responses = await Promise.all(bodies.map((b) => generate(b)))
    const ok = responses.filter((r) => r.status === 200)
    const shed = responses.filter((r) => r.status === 503)
    expect(ok.length + shed.length).toBe(12)
    expect(shed.length).toBeGreaterThan(0)
    for (const r of shed) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Every accepted request got its own image with its own seed.
    const seeds = await Promise.all(ok.map(async (r) => (await readImages(r)).meta.images.map((m) => m.seed)))
    expect(seeds.flat().sort()).toEqual(ok.map((r) => r.headers.get('x-snoopi-seeds')).sort())
    expect(new Set(seeds.flat()).size).toBe(ok.length)
  })

  it('publishes queue, in-flight, batch and stage metrics', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text()
    expect(text).toMatch(/^snoopi_in_flight_requests 0$/m)
    expect(text).toMatch(/^snoopi_queue_depth_images 0$/m)
    expect(text).toMatch(/^snoopi_batch_size_images_bucket\{le="4"\} \d+$/m)
    expect(text).toMatch(/^snoopi_stage_seconds_count\{stage="unet"\} \d+$/m)
    expect(text).toMatch(/^snoopi_images_generated_total \d+$/m)
    expect(text).toMatch(/^snoopi_errors_total\{kind="queue_full"\} [1-9]\d*$/m)
    expect(text).toMatch(/^snoopi_errors_total\{kind="bad_request"\} [1-9]\d*$/m)
  })

  it('answers /healthz quickly while a batch runs', async () => {
    useService({ maxBatchSize: 4, maxDelayMs: 0, maxQueuedImages: 32 })
    const busy = generate({ prompt: 'busy', seed: '5', n: 4, size: '128x128' })
    await new Promise((r) => setTimeout(r, 5))
    const started = performance.now()
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    const healthMs = performance.now() - started
    const busyResponse = await busy
    expect(busyResponse.status).toBe(200)
    expect(healthMs).toBeLessThan(100)
  })
})
