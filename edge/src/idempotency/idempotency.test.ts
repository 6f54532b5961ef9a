// Idempotency-Key on POST /v1/images/generations and POST /v1/jobs, through the whole worker.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { gpuStandIn, pngAnswer } from '../testing/gpu-stand-in.ts'
import { call, createKey, submitJob, waitForJob, type TestJob } from '../testing/jobs.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'
import type { IdempotencyRecord } from './idempotency-record.ts'

let key: string
beforeAll(async () => {
  key = await createKey('pro')
})
afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

const unique = () => `a yellow triangle ${crypto.randomUUID()}`
const callsFor = (upstream: { bodies: Record<string, unknown>[] }, prompt: string) => upstream.bodies.filter((b) => b.prompt === prompt).length
const generate = (apiKey: string, body: unknown, headers: Record<string, string> = {}) => call(apiKey, 'POST', '/v1/images/generations', body, headers)
const imagesLeft = async (apiKey: string) => (await (await call(apiKey, 'GET', '/v1/usage')).json<{ remaining: { images: number } }>()).remaining.images
const errorCode = async (response: Response) => (await response.json<{ error: { code: string } }>()).error.code

describe('Idempotency-Key on POST /v1/images/generations', () => {
  it('replays the first answer (status, body, x-cache) for the same key and body, without a second generation or charge', async () => {
    const upstream = gpuStandIn()
    const own = await createKey('pro')
    const prompt = unique()
    const first = await generate(own, { prompt, n: 2 }, { 'idempotency-key': 'order-1' })
    expect([first.status, first.headers.get('x-cache'), first.headers.get('idempotent-replayed')]).toEqual([200, 'MISS', null])
    const body = await first.text()
    // The same body with its keys in another order is the same request.
    const again = await generate(own, { n: 2, prompt }, { 'idempotency-key': 'order-1' })
    expect([again.status, again.headers.get('x-cache'), again.headers.get('idempotent-replayed')]).toEqual([200, 'MISS', 'true'])
    expect(await again.text()).toBe(body)
    expect(callsFor(upstream, prompt)).toBe(1)
    expect(await imagesLeft(own)).toBe(4998)
  })

  it('refuses the same key with another body (422 idempotency_key_reused)', async () => {
    gpuStandIn()
    expect((await generate(key, { prompt: unique() }, { 'idempotency-key': 'reuse-1' })).status).toBe(200)
    const reused = await generate(key, { prompt: unique() }, { 'idempotency-key': 'reuse-1' })
    expect(reused.status).toBe(422)
    expect(await errorCode(reused)).toBe('idempotency_key_reused')
  })

  it('answers 409 to a repeat while the first request is unanswered', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    gpuStandIn(async (body) => {
      await gate
      return pngAnswer(body)
    })
    const prompt = unique()
    const first = generate(key, { prompt }, { 'idempotency-key': 'slow-1' })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const repeat = await generate(key, { prompt }, { 'idempotency-key': 'slow-1' })
    expect(repeat.status).toBe(409)
    expect(await errorCode(repeat)).toBe('idempotency_key_in_flight')
    release()
    expect((await first).status).toBe(200)
    expect((await generate(key, { prompt }, { 'idempotency-key': 'slow-1' })).headers.get('idempotent-replayed')).toBe('true')
  })

  it('scopes keys per API key and per route', async () => {
    const upstream = gpuStandIn()
    const other = await createKey('pro')
    const prompt = unique()
    expect((await generate(key, { prompt }, { 'idempotency-key': 'shared-name' })).status).toBe(200)
    // Another API key with the same Idempotency-Key and another body: its own key space.
    const elsewhere = await generate(other, { prompt: unique() }, { 'idempotency-key': 'shared-name' })
    expect([elsewhere.status, elsewhere.headers.get('idempotent-replayed')]).toEqual([200, null])
    // The jobs route has its own key space too.
    const job = await submitJob(key, { prompt: unique() }, { 'idempotency-key': 'shared-name' })
    expect([job.status, job.headers.get('idempotent-replayed')]).toEqual([202, null])
    await waitForJob(key, (await job.json<TestJob>()).id)
    expect(callsFor(upstream, prompt)).toBe(1)
  })

  it('does not keep a failed first answer (5xx): the key can be used again', async () => {
    gpuStandIn(() => new Response('boom', { status: 500 }))
    const prompt = unique()
    expect((await generate(key, { prompt }, { 'idempotency-key': 'flaky-1' })).status).toBe(502)
    vi.restoreAllMocks()
    gpuStandIn()
    const retried = await generate(key, { prompt }, { 'idempotency-key': 'flaky-1' })
    expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([200, null])
  })

  it('refuses a malformed key with 400', async () => {
    for (const bad of ['', 'has space', 'x'.repeat(256), 'tab\there']) {
      const response = await generate(key, { prompt: 'x' }, { 'idempotency-key': bad })
      expect([bad, response.status]).toEqual([bad, 400])
    }
  })

  it('forgets a key after 24 h', async () => {
    const upstream = gpuStandIn()
    const own = await createKey('pro')
    const keyId = (await (await call(own, 'GET', '/v1/usage')).json<{ key_id: string }>()).key_id
    const prompt = unique()
    expect((await generate(own, { prompt }, { 'idempotency-key': 'day-1' })).status).toBe(200)
    const namespace = env.IDEMPOTENCY as DurableObjectNamespace<IdempotencyRecord>
    const record = namespace.get(namespace.idFromName(`${keyId}\ngenerations\nday-1`))
    await runInDurableObject(record, (instance: IdempotencyRecord) => {
      instance.clock = () => Date.now() + 24 * 3_600_000 + 1
    })
    const later = await generate(own, { prompt: unique() }, { 'idempotency-key': 'day-1' })
    expect([later.status, later.headers.get('idempotent-replayed')]).toEqual([200, null])
    expect(callsFor(upstream, prompt)).toBe(1)
  })
})

describe('Idempotency-Key on POST /v1/jobs', () => {
  it('returns the same job for the same key and body, charged once', async () => {
    gpuStandIn()
    const own = await createKey('pro')
    const body = { prompt: unique(), n: 3 }
    const first = await submitJob(own, body, { 'idempotency-key': 'job-1' })
    expect(first.status).toBe(202)
    const text = await first.text()
    const job = JSON.parse(text) as TestJob
    const again = await submitJob(own, body, { 'idempotency-key': 'job-1' })
    expect([again.status, again.headers.get('idempotent-replayed'), again.headers.get('location')]).toEqual([202, 'true', `/v1/jobs/${job.id}`])
    expect(await again.text()).toBe(text)
    await waitForJob(own, job.id)
    expect(await imagesLeft(own)).toBe(4997)
    const list = await (await call(own, 'GET', '/v1/jobs')).json<{ data: TestJob[] }>()
    expect(list.data.map((j) => j.id)).toEqual([job.id])
    const reused = await submitJob(own, { ...body, n: 1 }, { 'idempotency-key': 'job-1' })
    expect([reused.status, await errorCode(reused)]).toEqual([422, 'idempotency_key_reused'])
  })

  it('answers a repeat while the first request is still held (Prefer: wait) with the same job', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    gpuStandIn(async (body) => {
      await gate
      return pngAnswer(body)
    })
    const body = { prompt: unique() }
    const first = submitJob(key, body, { 'idempotency-key': 'job-held', prefer: 'wait=20' })
    await new Promise((resolve) => setTimeout(resolve, 500))
    const repeat = await submitJob(key, body, { 'idempotency-key': 'job-held' })
    expect([repeat.status, repeat.headers.get('idempotent-replayed')]).toEqual([202, 'true'])
    const repeated = await repeat.json<TestJob>()
    release()
    const held = await first
    expect(held.status).toBe(200)
    expect((await held.json<TestJob>()).id).toBe(repeated.id)
  })
})
