// Generation jobs through the whole worker, with the real queue (miniflare's Queues) and Durable
// Objects; the GPU tier is the shared stand-in.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { IMAGES } from '../testing/buckets.ts'
import { gpuStandIn, pngAnswer } from '../testing/gpu-stand-in.ts'
import { call, createKey, getJob, submitJob, waitForJob, type TestJob } from '../testing/jobs.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'
import worker from '../index.ts'
import type { ImageJob } from './image-job.ts'

// Every new key's first lookup spends one of the client's 30 unknown-key lookups a minute: keys are
// shared where no test counts its images.
let shared: string
beforeAll(async () => {
  shared = await createKey('pro')
})
afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

const unique = () => `a blue square ${crypto.randomUUID()}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Usage = { remaining: { images: number; requests: number }; today: { images: number; cache_hits: number; cache_misses: number; requests: number }; jobs: Record<string, number> }
const usage = async (key: string) => (await call(key, 'GET', '/v1/usage')).json<Usage>()

/** A stand-in that holds every generation until `release()`. */
function gatedGpu() {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const upstream = gpuStandIn(async (body) => {
    await gate
    return pngAnswer(body)
  })
  return { upstream, release }
}

/** Calls for one prompt: jobs of earlier tests may still be draining through the queue. */
const callsFor = (upstream: { bodies: Record<string, unknown>[] }, prompt: string) => upstream.bodies.filter((b) => b.prompt === prompt).length

function jobObject(id: string): DurableObjectStub<ImageJob> {
  const namespace = env.JOBS as DurableObjectNamespace<ImageJob>
  return namespace.get(namespace.idFromName(id))
}

describe('POST /v1/jobs', () => {
  it('queues a job that runs and succeeds (queued → running → succeeded), with its images in R2 and data as the synchronous answer', async () => {
    const { upstream, release } = gatedGpu()
    const key = await createKey()
    const prompt = unique()
    const response = await submitJob(key, { prompt, n: 2, size: '64x64', seed: 7, response_format: 'url' })
    expect(response.status).toBe(202)
    expect(response.headers.get('location')).toMatch(/^\/v1\/jobs\/job_/)
    const job = await response.json<TestJob>()
    expect(job).toMatchObject({ object: 'image.job', status: 'queued', model: 'snoopi-default', request: { prompt, n: 2, size: '64x64', seed: 7, response_format: 'url' }, queue_position: 1 })
    expect(job.urls).toEqual({ self: `https://api.test/v1/jobs/${job.id}`, cancel: `https://api.test/v1/jobs/${job.id}/cancel` })
    const running = await waitForJob(key, job.id, (j) => j.status === 'running')
    expect(running.attempts).toBe(1)
    release()
    const done = await waitForJob(key, job.id)
    expect(done.status).toBe('succeeded')
    expect(callsFor(upstream, prompt)).toBe(1)

    // The same request made synchronously now is a hit with exactly the job's data.
    const sync = await call(key, 'POST', '/v1/images/generations', { prompt, n: 2, size: '64x64', seed: 7 })
    expect(sync.headers.get('x-cache')).toBe('HIT')
    expect(done.data).toEqual((await sync.json<{ data: unknown[] }>()).data)
    for (const image of done.data!) {
      const id = /\/v1\/images\/([0-9a-f]{32})\.png$/.exec(image.url!)![1]
      expect(await IMAGES.head(`images/${id}.png`)).not.toBeNull()
    }
  }, 30_000)

  it('answers a cache hit as a job that has succeeded already, free', async () => {
    const upstream = gpuStandIn()
    const key = await createKey('test') // 5 images a day
    const prompt = unique()
    expect((await call(key, 'POST', '/v1/images/generations', { prompt, n: 4 })).status).toBe(200) // 1 image left
    const response = await submitJob(key, { prompt, n: 4, response_format: 'b64_json' })
    expect(response.status).toBe(202)
    const job = await response.json<TestJob>()
    expect([job.status, job.cache, job.data?.length]).toEqual(['succeeded', 'HIT', 4])
    expect(job.data![0]!.b64_json).toBeTruthy()
    expect(callsFor(upstream, prompt)).toBe(1)
    expect((await usage(key)).remaining.images).toBe(1)
  })

  it('charges at enqueue and keeps the charge for images it generated; refunds a job that found them generated (coalesced)', async () => {
    const { upstream, release } = gatedGpu()
    const key = await createKey('pro') // 5000 images a day
    const prompt = unique()
    const sync = call(key, 'POST', '/v1/images/generations', { prompt, n: 3 })
    await vi.waitFor(() => expect(callsFor(upstream, prompt)).toBe(1))
    const job = await (await submitJob(key, { prompt, n: 3 })).json<TestJob>()
    expect((await usage(key)).remaining.images).toBe(5000 - 3 - 3) // the sync leader and the job's enqueue charge
    await sleep(1500) // the job reaches the coordinator and follows the generation in flight
    release()
    expect((await sync).headers.get('x-cache')).toBe('MISS')
    const done = await waitForJob(key, job.id)
    expect([done.status, done.cache]).toEqual(['succeeded', 'COALESCED'])
    expect(callsFor(upstream, prompt)).toBe(1)
    await vi.waitFor(async () => expect((await usage(key)).remaining.images).toBe(5000 - 3))
    const counters = await usage(key)
    expect(counters.jobs).toMatchObject({ succeeded: 1, queued: 0, running: 0 })
  }, 30_000)

  it('refuses a job beyond the plan cap of unfinished jobs with 429 queue_full and Retry-After, spending nothing', async () => {
    const { release } = gatedGpu()
    const accepted: [string, string][] = []
    for (const [plan, cap] of [['test', 2], ['free', 5]] as const) {
      const key = await createKey(plan)
      for (let i = 0; i < cap; i++) {
        const response = await submitJob(key, { prompt: unique() })
        expect(response.status).toBe(202)
        accepted.push([key, (await response.json<TestJob>()).id])
      }
      const before = await usage(key)
      const refused = await submitJob(key, { prompt: unique() })
      expect([plan, refused.status, refused.headers.get('retry-after')]).toEqual([plan, 429, '5'])
      expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('queue_full')
      const after = await usage(key)
      // Nothing spent: neither images nor the request (its token is given back, and it is not counted).
      expect([after.remaining, after.today.requests]).toEqual([before.remaining, before.today.requests])
      expect(after.jobs.queued! + after.jobs.running!).toBe(cap)
    }
    // Canceled, so that they do not run on later tests' stand-ins.
    for (const [key, id] of accepted) expect((await call(key, 'POST', `/v1/jobs/${id}/cancel`)).status).toBe(200)
    release()
  }, 30_000)

  it('holds the answer with Prefer: wait=N and answers 200 when the job finished by then', async () => {
    gpuStandIn()
    const key = shared
    const response = await submitJob(key, { prompt: unique() }, { prefer: 'respond-async, wait=10' })
    expect(response.status).toBe(200)
    expect(response.headers.get('preference-applied')).toBe('wait=10')
    expect((await response.json<TestJob>()).status).toBe('succeeded')
    const clamped = await submitJob(key, { prompt: unique() }, { prefer: 'wait=600' })
    expect([clamped.status, clamped.headers.get('preference-applied')]).toEqual([200, 'wait=60'])
  })

  it('answers 202 with Preference-Applied when the job is not finished within the wait', async () => {
    const { release } = gatedGpu()
    const key = shared
    const response = await submitJob(key, { prompt: unique() }, { prefer: 'wait=1' })
    expect([response.status, response.headers.get('preference-applied')]).toEqual([202, 'wait=1'])
    expect(['queued', 'running']).toContain((await response.json<TestJob>()).status)
    release()
  })

  it('validates like the synchronous route and refuses webhook_events without a webhook', async () => {
    const key = shared
    expect((await submitJob(key, { prompt: '' })).status).toBe(400)
    expect((await submitJob(key, { prompt: 'x', model: 'nope' })).status).toBe(404)
    const events = await submitJob(key, { prompt: 'x', webhook_events: ['started'] })
    expect(events.status).toBe(400)
    const bad = await submitJob(key, { prompt: 'x', webhook: 'https://hooks.example.com/', webhook_events: ['done'] })
    expect(bad.status).toBe(400)
    const noScope = await createKey('pro', ['usage:read'])
    expect((await submitJob(noScope, { prompt: 'x' })).status).toBe(403)
    expect((await call(noScope, 'GET', '/v1/jobs')).status).toBe(403)
  })
})

describe('retries and failures', () => {
  it('retries a GPU 503 after its Retry-After and then succeeds', async () => {
    const prompt = unique()
    const times: number[] = []
    const upstream = gpuStandIn((body) => {
      if (body.prompt !== prompt) return pngAnswer(body)
      times.push(Date.now())
      // Retry-After beyond the GPU client's own 2 s budget: passed on to the job at once.
      return times.length === 1 ? new Response('busy', { status: 503, headers: { 'retry-after': '3' } }) : pngAnswer(body)
    })
    const key = shared
    const job = await (await submitJob(key, { prompt })).json<TestJob>()
    const waiting = await waitForJob(key, job.id, (j) => j.attempts === 1 && j.status === 'queued')
    expect(waiting.status).toBe('queued')
    const done = await waitForJob(key, job.id)
    expect([done.status, done.attempts, callsFor(upstream, prompt)]).toEqual(['succeeded', 2, 2])
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(2900)
  }, 30_000)

  it('fails a job whose GPU tier stays down past the retry window, and refunds its images', async () => {
    gpuStandIn(() => {
      throw new TypeError('connect ECONNREFUSED')
    })
    const key = await createKey('pro')
    const job = await (await submitJob(key, { prompt: unique(), n: 2 })).json<TestJob>()
    expect((await usage(key)).remaining.images).toBe(4998)
    const done = await waitForJob(key, job.id, undefined, 20_000)
    expect(done.status).toBe('failed')
    expect(done.error).toMatchObject({ code: 'upstream_unavailable' })
    expect(done.attempts).toBeGreaterThanOrEqual(2)
    await vi.waitFor(async () => expect((await usage(key)).remaining.images).toBe(5000))
    expect((await usage(key)).jobs).toMatchObject({ failed: 1, queued: 0, running: 0 })
  }, 30_000)

  it('fails a job at once on another upstream error (502), refunded', async () => {
    gpuStandIn(() => new Response('boom', { status: 500 }))
    const key = await createKey('pro')
    const job = await (await submitJob(key, { prompt: unique(), n: 1 })).json<TestJob>()
    const done = await waitForJob(key, job.id)
    expect([done.status, done.error?.code, done.attempts]).toEqual(['failed', 'upstream_error', 1])
    await vi.waitFor(async () => expect((await usage(key)).remaining.images).toBe(5000))
  })
})

describe('cancel', () => {
  it('cancels a queued job before it runs: it never reaches the GPU tier and is refunded', async () => {
    const upstream = gpuStandIn()
    const key = await createKey('pro')
    const prompt = unique()
    const job = await (await submitJob(key, { prompt, n: 4 })).json<TestJob>()
    const canceled = await call(key, 'POST', `/v1/jobs/${job.id}/cancel`)
    expect(canceled.status).toBe(200)
    expect((await canceled.json<TestJob>()).status).toBe('canceled')
    await sleep(2500) // past the queue's batch timeout: the message was delivered and dropped
    expect(callsFor(upstream, prompt)).toBe(0)
    expect((await getJob(key, job.id)).status).toBe('canceled')
    expect((await usage(key)).remaining.images).toBe(5000)
    const again = await call(key, 'POST', `/v1/jobs/${job.id}/cancel`)
    expect([again.status, (await again.json<TestJob>()).status]).toEqual([200, 'canceled'])
  }, 30_000)

  it('cancels a running job: it stays canceled when the generation ends, and is not charged', async () => {
    const { upstream, release } = gatedGpu()
    const key = await createKey('pro')
    const prompt = unique()
    const job = await (await submitJob(key, { prompt, n: 2 })).json<TestJob>()
    await waitForJob(key, job.id, (j) => j.status === 'running')
    expect((await call(key, 'POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200)
    release()
    await vi.waitFor(() => expect(callsFor(upstream, prompt)).toBe(1))
    await sleep(300)
    expect((await getJob(key, job.id)).status).toBe('canceled')
    expect((await usage(key)).remaining.images).toBe(5000)
  })

  it('refuses to cancel a finished job (409 job_not_cancelable)', async () => {
    gpuStandIn()
    const key = shared
    const job = await (await submitJob(key, { prompt: unique() }, { prefer: 'wait=10' })).json<TestJob>()
    expect(job.status).toBe('succeeded')
    const refused = await call(key, 'POST', `/v1/jobs/${job.id}/cancel`)
    expect(refused.status).toBe(409)
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('job_not_cancelable')
  })
})

describe('reading jobs', () => {
  it("answers 404 for another key's job on every job route, and for ids that are not job ids", async () => {
    const { release } = gatedGpu()
    const owner = await createKey()
    const other = shared
    const job = await (await submitJob(owner, { prompt: unique() })).json<TestJob>()
    for (const [method, path] of [
      ['GET', `/v1/jobs/${job.id}`],
      ['POST', `/v1/jobs/${job.id}/cancel`],
      ['GET', '/v1/jobs/job_nope'],
      ['GET', `/v1/jobs/${job.id.slice(0, -1)}X`],
    ] as const) {
      const response = await call(other, method, path)
      expect([path, response.status]).toEqual([path, 404])
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('job_not_found')
    }
    expect((await getJob(owner, job.id)).status).not.toBe('canceled')
    const listed = await (await call(other, 'GET', '/v1/jobs?limit=100')).json<{ data: TestJob[] }>()
    expect(listed.data.map((j) => j.id)).not.toContain(job.id)
    expect((await call(owner, 'POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200)
    release()
  })

  it('lists the key’s jobs newest first with cursor pagination, without spending requests', async () => {
    gpuStandIn()
    const key = await createKey('free') // 10 requests a minute: reading must not take them
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await (await submitJob(key, { prompt: unique(), n: 1 })).json<TestJob>()).id)
    const first = await (await call(key, 'GET', '/v1/jobs?limit=2')).json<{ object: string; data: TestJob[]; has_more: boolean }>()
    expect([first.object, first.data.map((j) => j.id), first.has_more]).toEqual(['list', [ids[2], ids[1]], true])
    const rest = await (await call(key, 'GET', `/v1/jobs?limit=2&after=${ids[1]}`)).json<{ data: TestJob[]; has_more: boolean }>()
    expect([rest.data.map((j) => j.id), rest.has_more]).toEqual([[ids[0]], false])
    const all = await (await call(key, 'GET', '/v1/jobs')).json<{ data: TestJob[] }>()
    expect(all.data).toHaveLength(3)
    const before = (await usage(key)).remaining.requests
    for (let i = 0; i < 12; i++) expect((await call(key, 'GET', `/v1/jobs/${ids[0]}`)).status).toBe(200)
    expect((await usage(key)).remaining.requests).toBe(before)
    expect((await call(key, 'GET', '/v1/jobs?limit=0')).status).toBe(400)
    expect((await call(key, 'GET', '/v1/jobs?limit=101')).status).toBe(400)
    expect((await call(key, 'GET', '/v1/jobs?after=nope')).status).toBe(400)
    await Promise.all(ids.map((id) => waitForJob(key, id)))
    expect((await usage(key)).jobs).toEqual({ queued: 0, running: 0, succeeded: 3, failed: 0, canceled: 0 })
  })

  it('describes every job route in /openapi.json with its error responses', async () => {
    const doc = await (await exports.default.fetch('https://api.test/openapi.json')).json<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>()
    expect(Object.keys(doc.paths['/v1/jobs']!).sort()).toEqual(['get', 'post'])
    expect(Object.keys(doc.paths['/v1/jobs']!.post!.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '401', '409', '422', '429']))
    expect(Object.keys(doc.paths['/v1/jobs/{id}']!.get!.responses)).toContain('404')
    expect(Object.keys(doc.paths['/v1/jobs/{id}/cancel']!.post!.responses)).toContain('409')
    expect(Object.keys(doc.paths['/v1/webhook-secret']!.post!.responses)).toContain('200')
  })
})

describe('exactly once with at-least-once delivery', () => {
  it('runs, charges and completes a job once when its message is delivered three times', async () => {
    const { upstream, release } = gatedGpu()
    const key = await createKey('pro')
    const prompt = unique()
    const job = await (await submitJob(key, { prompt, n: 2 })).json<TestJob>()
    await waitForJob(key, job.id, (j) => j.status === 'running')
    // Two more copies of its message while the first runs: one through the queue, one handed to the consumer.
    await env.JOB_QUEUE.send({ job: job.id })
    const batch = createMessageBatch('snoopi-jobs', [{ id: 'copy', timestamp: new Date(), attempts: 1, body: { job: job.id } }])
    const ctx = createExecutionContext()
    await worker.queue(batch, env)
    const result = await getQueueResult(batch, ctx)
    expect(result.explicitAcks).toEqual(['copy'])
    await sleep(1500)
    release()
    const done = await waitForJob(key, job.id)
    expect([done.status, done.attempts, callsFor(upstream, prompt)]).toEqual(['succeeded', 1, 1])
    // A copy arriving after it finished is dropped too.
    const late = createMessageBatch('snoopi-jobs', [{ id: 'late', timestamp: new Date(), attempts: 1, body: { job: job.id } }])
    const lateCtx = createExecutionContext()
    await worker.queue(late, env)
    expect((await getQueueResult(late, lateCtx)).explicitAcks).toEqual(['late'])
    expect(callsFor(upstream, prompt)).toBe(1)
    const counters = await usage(key)
    expect([counters.remaining.images, counters.today.images, counters.today.cache_misses]).toEqual([4998, 2, 1])
  }, 30_000)

  it('takes a job back when its consumer lapsed (the watchdog alarm), lets another consumer take it over, and completes it once', async () => {
    const { upstream, release } = gatedGpu()
    const key = await createKey('pro')
    const prompt = unique()
    const job = await (await submitJob(key, { prompt, n: 1 })).json<TestJob>()
    await waitForJob(key, job.id, (j) => j.status === 'running')
    // The consumer is taken to have died: its lease lapses, and the alarm runs.
    const stub = jobObject(job.id)
    await runInDurableObject(stub, (_instance: ImageJob, state) => {
      const stored = state.storage.kv.get<{ lease: { until: number } }>('state')!
      state.storage.kv.put('state', { ...stored, lease: { ...stored.lease, until: Date.now() - 1 } })
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect((await getJob(key, job.id)).status).toBe('queued') // and enqueued again
    // Another consumer gets a message for it (miniflare runs one batch at a time: the blocked one holds
    // the queue, so this one is handed over directly) and takes it over.
    const batch = createMessageBatch('snoopi-jobs', [{ id: 'takeover', timestamp: new Date(), attempts: 1, body: { job: job.id } }])
    const second = worker.queue(batch, env)
    await waitForJob(key, job.id, (j) => j.attempts === 2 && j.status === 'running')
    release()
    await second
    const done = await waitForJob(key, job.id)
    expect([done.status, done.attempts]).toEqual(['succeeded', 2])
    expect(callsFor(upstream, prompt)).toBe(1) // the second run followed the first's generation
    await sleep(1500) // the watchdog's copy arrives, and is dropped
    expect(callsFor(upstream, prompt)).toBe(1)
    await vi.waitFor(async () => expect((await usage(key)).remaining.images).toBe(4999))
  }, 30_000)

  it('sends the dead-letter queue’s jobs to failed, refunded', async () => {
    const { release } = gatedGpu()
    const key = await createKey('pro')
    const job = await (await submitJob(key, { prompt: unique(), n: 3 })).json<TestJob>()
    const batch = createMessageBatch('snoopi-jobs-dlq', [{ id: 'dead', timestamp: new Date(), attempts: 4, body: { job: job.id } }])
    const ctx = createExecutionContext()
    await worker.queue(batch, env)
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['dead'])
    const done = await getJob(key, job.id)
    expect([done.status, done.error?.code]).toEqual(['failed', 'job_undeliverable'])
    await vi.waitFor(async () => expect((await usage(key)).remaining.images).toBe(5000))
    release()
  })
})
