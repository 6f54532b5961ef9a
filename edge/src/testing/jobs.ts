// Test support for the job and webhook tests (imported by *.test.ts only): keys, job calls through
// the whole worker, waiting for a status, and a webhook receiver behind the worker's outbound fetch.
import { exports } from 'cloudflare:workers'
import { expect, vi } from 'vitest'
import { ADMIN_TOKEN } from './key-accounts.ts'

export const API = 'https://api.test'

export interface TestJob {
  id: string
  object: 'image.job'
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled'
  created: number
  model: string
  request: Record<string, unknown>
  queue_position?: number
  data?: { url?: string; b64_json?: string; seed: string; revised_prompt: string }[]
  error?: { type: string; code: string; message: string }
  cache?: string
  attempts: number
  urls: { self: string; cancel: string }
}

export async function createKey(plan = 'pro', scopes?: string[]): Promise<string> {
  const response = await exports.default.fetch(`${API}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'job-tests', plan, ...(scopes ? { scopes } : {}) }),
  })
  expect(response.status).toBe(201)
  return (await response.json<{ key: string }>()).key
}

export function call(key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${API}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

export function submitJob(key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(key, 'POST', '/v1/jobs', body, headers)
}

export async function getJob(key: string, id: string): Promise<TestJob> {
  const response = await call(key, 'GET', `/v1/jobs/${id}`)
  expect(response.status).toBe(200)
  return response.json<TestJob>()
}

/** Polls the job until `done` accepts it (the queue delivers within ~1 s: max_batch_timeout). */
export async function waitForJob(key: string, id: string, done: (job: TestJob) => boolean = (j) => ['succeeded', 'failed', 'canceled'].includes(j.status), timeout = 15_000): Promise<TestJob> {
  let last: TestJob | undefined
  await vi.waitFor(
    async () => {
      last = await getJob(key, id)
      expect(done(last), `job ${id} is ${last.status}`).toBe(true)
    },
    { timeout, interval: 100 },
  )
  return last as TestJob
}

export async function webhookSecret(key: string): Promise<string> {
  const response = await call(key, 'POST', '/v1/webhook-secret')
  expect(response.status).toBe(200)
  return (await response.json<{ secret: string }>()).secret
}

export interface ReceivedHook {
  url: string
  headers: Record<string, string>
  body: string
}

/**
 * A webhook receiver behind the worker's outbound fetch (install after `gpuStandIn()`, which it
 * passes other calls on to): requests to `hosts` are recorded and answered by `answer` (default
 * 204); DNS-over-HTTPS lookups are answered from `dns` (default: every name is 93.184.215.14).
 */
export function webhookReceiver(options: { hosts?: string[]; answer?: (hook: ReceivedHook, index: number) => Response | Promise<Response>; dns?: Record<string, string[]> } = {}): { hooks: ReceivedHook[]; lookups: string[] } {
  const hosts = options.hosts ?? ['hooks.example.com', '127.0.0.1:9999']
  const state = { hooks: [] as ReceivedHook[], lookups: [] as string[] }
  // A second spyOn of fetch is the same spy: pass other calls to the implementation installed before.
  const current = globalThis.fetch
  const previous = (vi.isMockFunction(current) ? (current.getMockImplementation() ?? current) : current) as typeof fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    if (url.host === 'cloudflare-dns.com') {
      const name = url.searchParams.get('name') ?? ''
      const type = url.searchParams.get('type')
      state.lookups.push(`${name} ${type}`)
      const addresses = (options.dns?.[name] ?? ['93.184.215.14']).filter((a) => (type === 'AAAA' ? a.includes(':') : !a.includes(':')))
      return Response.json({ Status: 0, Answer: addresses.map((data) => ({ type: type === 'AAAA' ? 28 : 1, data })) })
    }
    if (!hosts.includes(url.host)) return previous(input, init)
    const hook: ReceivedHook = { url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() }
    state.hooks.push(hook)
    return options.answer ? options.answer(hook, state.hooks.length - 1) : new Response(null, { status: 204 })
  })
  return state
}
