import { mkdtempSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Writable } from 'node:stream'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDevVars } from '../scripts/dev/dev-vars.ts'
import { startStack, waitForHealthy, type Stack } from '../scripts/dev/local-stack.ts'
import { freePort } from '../scripts/dev/port-check.ts'

/**
 * Generation jobs across the real stack: wrangler dev (workerd, miniflare's real Queues and Durable
 * Objects, persisted state) + the GPU service with the built-in model, a local webhook receiver, and
 * an edge restart while jobs are queued (miniflare drops queued messages when wrangler dev restarts;
 * each job's Durable Object alarm enqueues it again).
 */
const root = resolve(import.meta.dirname, '..')
let stack: Stack
let edgeUrl = ''
let log = ''
let receiver: Server
let hookUrl = ''
const hooks: { headers: Record<string, string>; body: string }[] = []
let key = ''
let secret = ''


type Job = { id: string; status: string; data?: { url: string }[]; error?: unknown }
type Event = { type: string; data: Job }

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${edgeUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

async function submit(count: number, label: string): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const response = await api('POST', '/v1/jobs', { prompt: `a red circle and a blue square, ${label} ${i} ${Date.now()}`, size: '32x32', webhook: hookUrl })
    expect(response.status, await response.clone().text()).toBe(202)
    ids.push(((await response.json()) as Job).id)
  }
  return ids
}

/** Every job finished, polled through GET /v1/jobs/{id}. */
async function finished(ids: string[], timeoutMs: number): Promise<Map<string, Job>> {
  const deadline = Date.now() + timeoutMs
  const jobs = new Map<string, Job>()
  while (Date.now() < deadline) {
    for (const id of ids) {
      if (jobs.get(id)?.status === 'succeeded') continue
      try {
        const response = await api('GET', `/v1/jobs/${id}`)
        if (response.ok) jobs.set(id, (await response.json()) as Job)
      } catch {
        // The edge is restarting.
      }
    }
    if (ids.every((id) => ['succeeded', 'failed', 'canceled'].includes(jobs.get(id)?.status ?? ''))) return jobs
    await new Promise((r) => setTimeout(r, 500))
  }
  return jobs
}

/** The receiver's deliveries for these jobs, each verified with the `standardwebhooks` package. */
function deliveriesFor(ids: string[]): Event[] {
  const wanted = new Set(ids)
  return hooks.map((hook) => new Webhook(secret).verify(hook.body, hook.headers) as Event).filter((event) => wanted.has(event.data.id))
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
}

beforeAll(async () => {
  const [edgePort, gpuPort, hookPort] = [await freePort(), await freePort(), await freePort()]
  edgeUrl = `http://127.0.0.1:${edgePort}`
  hookUrl = `http://127.0.0.1:${hookPort}/hooks/snoopi`
  receiver = createHttpServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      hooks.push({ headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])), body })
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((done) => receiver.listen(hookPort, '127.0.0.1', done))

  const scratch = mkdtempSync(join(tmpdir(), 'snoopi-jobs-'))
  const devVarsPath = join(scratch, '.dev.vars')
  const { vars } = ensureDevVars(devVarsPath)
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      log += chunk.toString()
      done()
    },
  })
  stack = startStack({ root, edgePort, gpuPort, devVarsPath, vars, persistTo: join(scratch, 'state'), useColour: false, out })
  const up = (await waitForHealthy(`http://127.0.0.1:${gpuPort}/readyz`, 90_000)) && (await waitForHealthy(`${edgeUrl}/healthz`, 90_000))
  if (!up) throw new Error(`the local stack did not start:\n${log.slice(-4000)}`)
  const created = await fetch(`${edgeUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'e2e-jobs', plan: 'enterprise' }),
  })
  key = ((await created.json()) as { key: string }).key
  secret = ((await (await api('POST', '/v1/webhook-secret')).json()) as { secret: string }).secret
}, 150_000)

afterAll(async () => {
  await stack?.stop()
  await new Promise((done) => receiver?.close(done))
})

describe('generation jobs on the local stack (wrangler dev + GPU service)', () => {
  it('runs 20 jobs with a webhook: all succeed, with images, and the receiver gets 20 valid signed job.completed deliveries', async () => {
    const ids = await submit(20, 'batch')
    const jobs = await finished(ids, 120_000)
    expect(ids.map((id) => jobs.get(id)?.status)).toEqual(Array(20).fill('succeeded'))
    const first = jobs.get(ids[0]!)!
    expect(first.data?.[0]?.url).toMatch(new RegExp(`^${edgeUrl}/v1/images/[0-9a-f]{32}\\.png$`)) // PUBLIC_BASE_URL = the edge (npm start)
    expect((await fetch(first.data![0]!.url)).headers.get('content-type')).toBe('image/png')
    await waitFor(() => deliveriesFor(ids).length >= 20, 30_000)
    const events = deliveriesFor(ids)
    expect(events).toHaveLength(20)
    expect(events.every((e) => e.type === 'job.completed' && e.data.status === 'succeeded')).toBe(true)
    expect(new Set(events.map((e) => e.data.id)).size).toBe(20)
    const usage = (await (await api('GET', '/v1/usage')).json()) as { jobs: Record<string, number> }
    expect(usage.jobs).toMatchObject({ succeeded: 20, queued: 0, running: 0 })
  }, 180_000)

  it('loses no job when the edge restarts while jobs are queued', async () => {
    const ids = await submit(12, 'restart')
    // Restart at once: most of these are still on the queue, which wrangler dev does not keep.
    const before = await Promise.all(ids.map(async (id) => ((await (await api('GET', `/v1/jobs/${id}`)).json()) as Job).status))
    await stack.restartEdge(5_000)
    expect(before.filter((status) => status !== 'succeeded').length).toBeGreaterThan(0)
    expect(await waitForHealthy(`${edgeUrl}/healthz`, 90_000)).toBe(true)
    const jobs = await finished(ids, 150_000)
    expect(ids.map((id) => jobs.get(id)?.status)).toEqual(Array(12).fill('succeeded'))
    await waitFor(() => new Set(deliveriesFor(ids).map((e) => e.data.id)).size >= 12, 60_000)
    const completed = new Set(deliveriesFor(ids).filter((e) => e.type === 'job.completed').map((e) => e.data.id))
    expect(completed.size).toBe(12)
    // The jobs' alarms did it: their messages were overdue, so they were enqueued again.
    expect(log).toMatch(/its message is overdue \((queued|running)\); enqueueing it again/)
  }, 300_000)
})
