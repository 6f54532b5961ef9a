import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { loadBundle } from '../bundle/load/model-bundle.ts'
import type { ServedModel } from '../bundle/load/model-catalog.ts'
import { loadServiceConfig } from '../config/service-config.ts'
import { signRequest } from '../contract/request-signature.ts'
import type { Batch, BatchResult, BatchRunner } from '../generation/batch.ts'
import { ServiceMetrics } from '../metrics/service-metrics.ts'
import { ImageService } from '../service/image-service.ts'
import { ClientGoneError } from '../service/service-error.ts'
import { testBundle } from '../testing/bundles.ts'
import { createApp } from './app.ts'
import { errorHandler } from './errors.ts'

const secret = 'e'.repeat(64)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Stands in for the pipeline worker: records the batches, answers with 3-byte "images" after `delayMs`. */
class FakeRunner implements BatchRunner {
  readonly bundle = loadBundle(testBundle('tiny'))
  readonly batches: Batch[] = []
  delayMs = 0
  failure: Error | undefined

  async run(batch: Batch): Promise<BatchResult> {
    this.batches.push(batch)
    await sleep(this.delayMs)
    if (this.failure) throw this.failure
    const { width, height } = batch.size
    return {
      images: batch.rows.map((row) => ({ data: new Uint8Array([1, 2, 3]), contentType: 'image/png', seed: row.seed, width, height, droppedTokens: 0 })),
      timings: { tokenize: 0, textEncoder: 0, unet: 0, vae: 0, encode: 0, total: 0 },
    }
  }
}

let runner: FakeRunner
let metrics: ServiceMetrics
let model: ServedModel
let logged: string[]
let app: ReturnType<typeof createApp>

beforeEach(() => {
  runner = new FakeRunner()
  metrics = new ServiceMetrics({ defaultMetrics: false })
  model = { id: 'tiny-test', loadedAt: new Date(), service: new ImageService(runner, metrics, { maxBatchSize: 1, maxDelayMs: 0, maxQueuedImages: 2 }) }
  logged = []
  app = createApp({ config: loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0' }), metrics, model, log: (line) => logged.push(line) })
})
afterEach(() => vi.restoreAllMocks())

/** A signed POST /internal/generate through the whole app (signature check included). */
async function post(body: unknown): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  const headers = await signRequest({ secret, method: 'POST', path: '/internal/generate', body: text })
  return app.request('/internal/generate', { method: 'POST', body: text, headers: { ...headers, 'content-type': 'application/json' } })
}

async function errorOf(response: Response) {
  return ((await response.json()) as { error: { type: string; code: string; message: string } }).error
}

const errorCount = async (kind: string) => {
  const value = (await metrics.errors.get()).values.find((v) => v.labels.kind === kind)
  return value?.value ?? 0
}

describe('errors become answers in one place (the app error handler)', () => {
  it('runs a validated request through the service and the batcher to the runner', async () => {
    const response = await post({ prompt: ' a  cat ', seed: '5', n: 2, negative_prompt: 'dog', guidance: { mode: 'nag' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-snoopi-seeds')).toBe('5,6')
    // What the runner got is the validated form: the prompt normalised, the seeds as bigints, NAG's defaults filled in.
    expect(runner.batches.flatMap((b) => b.rows)).toEqual([
      { prompt: 'a cat', seed: 5n, negative: 'dog', guidance: { mode: 'nag', scale: 5, tau: 2.5, alpha: 0.25 } },
      { prompt: 'a cat', seed: 6n, negative: 'dog', guidance: { mode: 'nag', scale: 5, tau: 2.5, alpha: 0.25 } },
    ])
  })

  it.each([
    ['not JSON', '{"prompt": ', 400, 'invalid_json', 'bad_request'],
    ['a schema violation', { prompt: 'x', seed: '1', steps: 4 }, 400, 'invalid_request', 'bad_request'],
    ['a size the bundle does not offer', { prompt: 'x', seed: '1', size: '512x512' }, 400, 'invalid_request', 'bad_request'],
    ['another model', { prompt: 'x', seed: '1', model: 'other' }, 404, 'model_not_found', 'bad_request'],
    ['another model version', { prompt: 'x', seed: '1', model_version: 'v0' }, 409, 'model_version_mismatch', 'version_mismatch'],
  ])('answers %s with its status, code and kind, before anything is queued', async (_name, body, status, code, kind) => {
    const response = await post(body)
    expect(response.status).toBe(status)
    const error = await errorOf(response)
    expect([error.type, error.code]).toEqual(['invalid_request_error', code])
    expect(await errorCount(kind)).toBe(1)
    expect(runner.batches).toEqual([])
  })

  it('answers 503 loading with Retry-After 5 while no model is loaded', async () => {
    model.service = undefined
    const response = await post({ prompt: 'x', seed: '1' })
    expect([response.status, response.headers.get('retry-after'), (await errorOf(response)).code]).toEqual([503, '5', 'loading'])
    expect(await errorCount('loading')).toBe(1)
  })

  it('answers a full queue with 503 queue_full and the batcher\'s Retry-After, a request past its deadline with 504', async () => {
    runner.delayMs = 300
    const running = post({ prompt: 'first', seed: '1' })
    await sleep(20)
    const late = post({ prompt: 'late', seed: '2', timeout_ms: 100 })
    const queued = post({ prompt: 'queued', seed: '3' })
    await sleep(20)
    const refused = await post({ prompt: 'refused', seed: '4' })
    expect([refused.status, (await errorOf(refused)).code]).toEqual([503, 'queue_full'])
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const [first, deadline, third] = await Promise.all([running, late, queued])
    expect([first.status, third.status]).toEqual([200, 200])
    expect([deadline.status, (await errorOf(deadline)).code]).toEqual([504, 'deadline_exceeded'])
    expect([await errorCount('queue_full'), await errorCount('deadline')]).toEqual([1, 1])
  })

  it('answers 503 shutting_down with Retry-After 5 once the service drains', async () => {
    await model.service!.batcher.drain()
    const response = await post({ prompt: 'x', seed: '1' })
    expect([response.status, response.headers.get('retry-after'), (await errorOf(response)).code]).toEqual([503, '5', 'shutting_down'])
    expect(await errorCount('shutting_down')).toBe(1)
  })

  it('answers 499 client_gone (a status Hono does not name) when the client went away', async () => {
    const bare = new Hono()
    bare.get('/gone', () => {
      throw new ClientGoneError('the client went away while queued')
    })
    bare.onError(errorHandler({ metrics, log: (line) => logged.push(line) }))
    const response = await bare.request('/gone')
    expect([response.status, (await errorOf(response)).code]).toEqual([499, 'client_gone'])
    expect(await errorCount('client_gone')).toBe(1)
  })

  it('answers a failed run with 500 generation_failed, logs the cause and sends none of it', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    runner.failure = new Error('CUDA error: out of memory')
    const response = await post({ prompt: 'x', seed: '1' })
    const error = await errorOf(response)
    expect([response.status, error.type, error.code, error.message]).toEqual([500, 'server_error', 'generation_failed', 'generation failed'])
    expect(await errorCount('internal')).toBe(1)
    expect(consoleError).toHaveBeenCalledWith('generation failed:', runner.failure)
  })

  it('answers anything else with 500 internal_error, logged with its stack and not counted', async () => {
    model.service = { get bundle(): never { throw new TypeError('a bug') } } as unknown as ImageService
    const response = await post({ prompt: 'x', seed: '1' })
    expect([response.status, (await errorOf(response)).code]).toEqual([500, 'internal_error'])
    expect(logged.join('\n')).toMatch(/unhandled error on POST \/internal\/generate: TypeError: a bug/)
    expect((await metrics.errors.get()).values).toEqual([])
  })
})
