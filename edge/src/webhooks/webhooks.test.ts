// Signed webhooks of jobs through the whole worker (real queue, real Durable Objects and alarms), each
// delivery verified with an independent implementation: the `standardwebhooks` npm package.
import { env } from 'cloudflare:workers'
import { Webhook } from 'standardwebhooks'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Delivery, ImageJob } from '../jobs/image-job.ts'
import { gpuStandIn } from '../testing/gpu-stand-in.ts'
import { call, createKey, submitJob, waitForJob, webhookReceiver, webhookSecret, type ReceivedHook, type TestJob } from '../testing/jobs.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

let key: string
let secret: string
beforeAll(async () => {
  key = await createKey('pro')
  secret = await webhookSecret(key)
})
afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

const unique = () => `a green circle ${crypto.randomUUID()}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
type Event = { type: string; data: TestJob }

function deliveries(id: string): Promise<Delivery[]> {
  const namespace = env.JOBS as DurableObjectNamespace<ImageJob>
  return namespace.get(namespace.idFromName(id)).deliveries()
}

/** The receiver's deliveries for one job, each verified by `standardwebhooks` against `secrets` (any one must verify). */
function verified(hooks: ReceivedHook[], jobId: string, secrets: string[] = [secret]): Event[] {
  return hooks
    .map((hook) => {
      let event: Event | undefined
      for (const s of secrets) event = new Webhook(s).verify(hook.body, hook.headers) as Event
      return event as Event
    })
    .filter((event) => event.data.id === jobId)
}

describe('POST /v1/webhook-secret', () => {
  it('creates a whsec_ secret shown once, and needs the images:generate scope', async () => {
    const own = await createKey('pro')
    const response = await call(own, 'POST', '/v1/webhook-secret')
    expect(response.status).toBe(200)
    const created = await response.json<{ secret: string; created: number }>()
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(Math.abs(created.created - Date.now() / 1000)).toBeLessThan(5)
    const readOnly = await createKey('pro', ['usage:read'])
    expect((await call(readOnly, 'POST', '/v1/webhook-secret')).status).toBe(403)
    expect((await call('snp_live_nope', 'POST', '/v1/webhook-secret')).status).toBe(401)
  })
})

describe('submitting a job with a webhook', () => {
  it('needs a webhook secret first (400 webhook_secret_missing), charging nothing', async () => {
    const own = await createKey('pro')
    const response = await submitJob(own, { prompt: unique(), webhook: 'https://hooks.example.com/x' })
    expect(response.status).toBe(400)
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('webhook_secret_missing')
    expect((await (await call(own, 'GET', '/v1/usage')).json<{ remaining: { images: number } }>()).remaining.images).toBe(5000)
  })

  it.each(['http://hooks.example.com/x', 'https://10.0.0.1/x', 'https://169.254.169.254/', 'https://[::1]/', 'https://hooks.localhost/x', 'https://gpu.test/internal/generate', 'https://api.test/v1/jobs', 'ftp://hooks.example.com/'])(
    'refuses %s at submission (400 invalid_webhook_url)',
    async (url) => {
      const response = await submitJob(key, { prompt: unique(), webhook: url })
      expect(response.status).toBe(400)
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('invalid_webhook_url')
    },
  )

  it('refuses the GPU service’s own port on loopback even with WEBHOOK_ALLOW_LOOPBACK_HTTP', async () => {
    // vitest.config.ts sets the GPU tier to http://gpu.test (not loopback), so loopback ports are all open here …
    expect((await submitJob(key, { prompt: unique(), webhook: 'http://127.0.0.1:9999/hook', webhook_events: [] })).status).toBe(202)
    // … but loopback addresses other than 127.0.0.1 / localhost are not.
    expect((await submitJob(key, { prompt: unique(), webhook: 'http://127.0.0.2:9999/hook' })).status).toBe(400)
  })
})

describe('deliveries', () => {
  it('sends job.started and job.completed, signed (Standard Webhooks), with the job as data', async () => {
    gpuStandIn()
    const receiver = webhookReceiver()
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/done', webhook_events: ['started', 'completed'] })).json<TestJob>()
    await vi.waitFor(() => expect(verified(receiver.hooks, job.id)).toHaveLength(2), { timeout: 10_000 })
    const events = verified(receiver.hooks, job.id)
    expect(events.map((e) => e.type).sort()).toEqual(['job.completed', 'job.started'])
    const completed = events.find((e) => e.type === 'job.completed')!
    expect(completed.data).toMatchObject({ id: job.id, object: 'image.job', status: 'succeeded', urls: { self: `https://api.test/v1/jobs/${job.id}` } })
    expect(completed.data.data?.[0]?.url).toMatch(/^https:\/\/api\.test\/v1\/images\/[0-9a-f]{32}\.png$/)
    expect(events.find((e) => e.type === 'job.started')!.data.status).toBe('running')
    const hook = receiver.hooks.find((h) => h.body.includes('job.completed') && h.body.includes(job.id))!
    expect(hook.headers['webhook-id']).toMatch(/^msg_/)
    expect(hook.headers['content-type']).toBe('application/json')
    expect(receiver.lookups).toContain('hooks.example.com A') // resolved and checked before delivery
    // The body is the job: exactly what GET /v1/jobs/{id} answers.
    expect(completed.data).toEqual(await (await call(key, 'GET', `/v1/jobs/${job.id}`)).json())
  })

  it('always sends job.canceled (and job.failed), even when no optional event is chosen', async () => {
    gpuStandIn()
    const receiver = webhookReceiver()
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/c', webhook_events: [] })).json<TestJob>()
    expect((await call(key, 'POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200)
    await vi.waitFor(() => expect(verified(receiver.hooks, job.id).map((e) => [e.type, e.data.status])).toEqual([['job.canceled', 'canceled']]), { timeout: 10_000 })
  })

  it('sends job.failed when the GPU tier stays down past the retries, refunded', async () => {
    gpuStandIn(() => {
      throw new TypeError('connect ECONNREFUSED')
    })
    const receiver = webhookReceiver()
    const own = await createKey('pro')
    const ownSecret = await webhookSecret(own)
    const job = await (await submitJob(own, { prompt: unique(), n: 2, webhook: 'https://hooks.example.com/f' })).json<TestJob>()
    await vi.waitFor(() => expect(verified(receiver.hooks, job.id, [ownSecret]).map((e) => [e.type, e.data.status, e.data.error?.code])).toEqual([['job.failed', 'failed', 'upstream_unavailable']]), {
      timeout: 20_000,
    })
    expect((await (await call(own, 'GET', '/v1/usage')).json<{ remaining: { images: number } }>()).remaining.images).toBe(5000)
  }, 30_000)

  it('sends one job.completed when the job’s message is delivered twice', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const { pngAnswer } = await import('../testing/gpu-stand-in.ts')
    gpuStandIn(async (body) => {
      await gate
      return pngAnswer(body)
    })
    const receiver = webhookReceiver()
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/once' })).json<TestJob>()
    await env.JOB_QUEUE.send({ job: job.id })
    await env.JOB_QUEUE.send({ job: job.id })
    release()
    await waitForJob(key, job.id)
    await sleep(3000) // both copies delivered and dropped
    expect(verified(receiver.hooks, job.id).map((e) => e.type)).toEqual(['job.completed'])
  }, 20_000)

  it('signs with the old and the new secret for 24 h after a rotation', async () => {
    gpuStandIn()
    const receiver = webhookReceiver()
    const own = await createKey('pro')
    const old = await webhookSecret(own)
    const rotated = await webhookSecret(own)
    expect(rotated).not.toBe(old)
    const job = await (await submitJob(own, { prompt: unique(), webhook: 'https://hooks.example.com/r' })).json<TestJob>()
    await vi.waitFor(() => expect(receiver.hooks.filter((h) => h.body.includes(job.id))).toHaveLength(1), { timeout: 10_000 })
    const hook = receiver.hooks.find((h) => h.body.includes(job.id))!
    expect(hook.headers['webhook-signature']!.split(' ')).toHaveLength(2)
    // Either secret verifies it on its own.
    expect((new Webhook(old).verify(hook.body, hook.headers) as Event).type).toBe('job.completed')
    expect((new Webhook(rotated).verify(hook.body, hook.headers) as Event).type).toBe('job.completed')
    expect(() => new Webhook(`whsec_${btoa('x'.repeat(24))}`).verify(hook.body, hook.headers)).toThrow()
    // A tampered body does not verify.
    expect(() => new Webhook(rotated).verify(hook.body.replace('succeeded', 'failed'), hook.headers)).toThrow()
  })

  it('retries a failed delivery within 10 s, with the same webhook-id and a fresh signature', async () => {
    gpuStandIn()
    const receiver = webhookReceiver({ answer: (_hook, index) => new Response(index === 0 ? 'down' : null, { status: index === 0 ? 500 : 204 }) })
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/retry' })).json<TestJob>()
    await vi.waitFor(() => expect(receiver.hooks.filter((h) => h.body.includes(job.id))).toHaveLength(2), { timeout: 12_000 })
    const [first, second] = receiver.hooks.filter((h) => h.body.includes(job.id)) as [ReceivedHook, ReceivedHook]
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id'])
    const gap = Number(second.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp'])
    expect(gap).toBeGreaterThanOrEqual(4)
    expect(gap).toBeLessThanOrEqual(10)
    expect(verified([second], job.id)).toHaveLength(1)
    await vi.waitFor(async () => expect((await deliveries(job.id)).map((d) => [d.state, d.attempts])).toEqual([['delivered', 2]]))
  }, 20_000)

  it('stops on 410 Gone, and counts a redirect as a failure without following it', async () => {
    gpuStandIn()
    const receiver = webhookReceiver({
      hosts: ['hooks.example.com', 'elsewhere.example.com'],
      answer: (hook) => (hook.url.endsWith('/gone') ? new Response('bye', { status: 410 }) : new Response(null, { status: 302, headers: { location: 'https://elsewhere.example.com/x' } })),
    })
    const gone = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/gone' })).json<TestJob>()
    const moved = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/moved' })).json<TestJob>()
    await vi.waitFor(async () => expect((await deliveries(gone.id)).map((d) => [d.state, d.attempts])).toEqual([['stopped', 1]]), { timeout: 10_000 })
    await vi.waitFor(async () => expect((await deliveries(moved.id)).map((d) => [d.state, d.attempts, d.results.length])).toEqual([['pending', 1, 1]]), { timeout: 10_000 })
    expect((await deliveries(moved.id))[0]!.results[0]).toMatch(/^redirect not followed \(302/)
    expect(receiver.hooks.some((h) => h.url.startsWith('https://elsewhere.example.com'))).toBe(false)
  })

  it('refuses at delivery a hostname that now resolves to a private address (nothing is sent)', async () => {
    gpuStandIn()
    const receiver = webhookReceiver({ dns: { 'rebind.example.com': ['10.0.0.7'] }, hosts: ['rebind.example.com'] })
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'https://rebind.example.com/x' })).json<TestJob>()
    await vi.waitFor(async () => expect((await deliveries(job.id))[0]?.results).toHaveLength(1), { timeout: 10_000 })
    expect((await deliveries(job.id))[0]!.results[0]).toBe('refused: rebind.example.com resolves to 10.0.0.7, a refused address')
    expect(receiver.hooks).toHaveLength(0)
  })

  it('reads no more than a few KiB of a receiver’s answer', async () => {
    gpuStandIn()
    let pulled = 0
    webhookReceiver({
      answer: () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              pulled += 1024
              controller.enqueue(new Uint8Array(1024).fill(97))
              if (pulled >= 10 * 1024 * 1024) controller.close()
            },
          }),
          { status: 200 },
        ),
    })
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'https://hooks.example.com/big' })).json<TestJob>()
    await vi.waitFor(async () => expect((await deliveries(job.id))[0]?.state).toBe('delivered'), { timeout: 10_000 })
    expect(pulled).toBeLessThan(64 * 1024)
  })

  it('delivers to a local receiver over plain http with WEBHOOK_ALLOW_LOOPBACK_HTTP (the tests turn it on)', async () => {
    gpuStandIn()
    const receiver = webhookReceiver()
    const job = await (await submitJob(key, { prompt: unique(), webhook: 'http://127.0.0.1:9999/local' })).json<TestJob>()
    await vi.waitFor(() => expect(verified(receiver.hooks, job.id).map((e) => e.type)).toEqual(['job.completed']), { timeout: 10_000 })
  })
})
