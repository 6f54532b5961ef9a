import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { ReplayGuard } from './replay-guard.ts'
import { signRequest } from '../contract/request-signature.ts'
import { signedRequests } from './signed-requests.ts'

const secret = 'k'.repeat(64)
const now = Date.UTC(2026, 10, 27, 12, 0, 0)
const max = 1024

/** An app whose one route records what it received; the clock is fixed at `now`. */
function app(options: { replayGuard?: ReplayGuard } = {}) {
  const seen: string[] = []
  const rejected: string[] = []
  const hono = new Hono()
  hono.use('/internal/*', signedRequests({ secret, maxBodyBytes: max, now: () => now, onReject: (reason) => rejected.push(reason), ...options }))
  hono.post('/internal/echo', async (c) => {
    seen.push(await c.req.text())
    return c.json({ ok: true })
  })
  return { hono, seen, rejected }
}

async function signedPost(hono: Hono, body: string, sign: { now?: number; nonce?: string } = {}) {
  const headers = await signRequest({ secret, method: 'POST', path: '/internal/echo', body, now: sign.now ?? now, nonce: sign.nonce })
  return { headers, response: await hono.request('/internal/echo', { method: 'POST', body, headers }) }
}

/** A body that never ends, counting the bytes the server pulled from it. */
function endlessBody(chunkBytes = 256) {
  const counter = { pulled: 0 }
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      counter.pulled += chunkBytes
      controller.enqueue(new Uint8Array(chunkBytes).fill(0x61))
    },
  })
  return { stream, counter }
}

const code = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code

describe('signedRequests', () => {
  it('passes a signed request and hands the route the body it verified', async () => {
    const { hono, seen } = app()
    const { response } = await signedPost(hono, '{"prompt":"x"}')
    expect(response.status).toBe(200)
    expect(seen).toEqual(['{"prompt":"x"}'])
  })

  it('refuses a replay with 401 replayed_request and does no work for it', async () => {
    const { hono, seen, rejected } = app()
    const { headers } = await signedPost(hono, 'once')
    const replay = await hono.request('/internal/echo', { method: 'POST', body: 'once', headers })
    expect(replay.status).toBe(401)
    expect(await code(replay)).toBe('replayed_request')
    expect(seen).toEqual(['once'])
    expect(rejected.at(-1)).toMatch(/already used/)
  })

  it('passes the same body under two different nonces', async () => {
    const { hono, seen } = app()
    expect((await signedPost(hono, 'same')).response.status).toBe(200)
    expect((await signedPost(hono, 'same')).response.status).toBe(200)
    expect(seen).toEqual(['same', 'same'])
  })

  it('accepts 30 s of future skew and no more', async () => {
    const { hono } = app()
    expect((await signedPost(hono, 'a', { now: now + 30_000 })).response.status).toBe(200)
    const ahead = (await signedPost(hono, 'b', { now: now + 31_000 })).response
    expect([ahead.status, await code(ahead)]).toEqual([401, 'invalid_signature'])
  })

  it('answers 503 with Retry-After when the replay guard is full, without running the route', async () => {
    const guard = new ReplayGuard({ windowSeconds: 300, maxEntries: 1 })
    const { hono, seen } = app({ replayGuard: guard })
    expect((await signedPost(hono, 'first')).response.status).toBe(200)
    const { response } = await signedPost(hono, 'second')
    expect([response.status, await code(response), response.headers.get('retry-after')]).toEqual([503, 'replay_guard_full', '301'])
    expect(seen).toEqual(['first'])
  })

  it('does not let unsigned requests fill the replay guard', async () => {
    const guard = new ReplayGuard({ windowSeconds: 300, maxEntries: 1 })
    const { hono } = app({ replayGuard: guard })
    const headers = await signRequest({ secret: 'x'.repeat(64), method: 'POST', path: '/internal/echo', body: 'forged', now })
    expect((await hono.request('/internal/echo', { method: 'POST', body: 'forged', headers })).status).toBe(401)
    expect(guard.size).toBe(0)
  })

  it('answers an unsigned endless body with 401 without reading it', async () => {
    const { hono } = app()
    const { stream, counter } = endlessBody()
    const response = await hono.request('/internal/echo', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(401)
    // At most what the stream queued for itself before anyone read (its high-water mark: one chunk).
    expect(counter.pulled).toBeLessThanOrEqual(256)
  })

  it('stops reading an endless body with well-formed headers once it passes the cap: 413', async () => {
    const { hono } = app()
    const { stream, counter } = endlessBody()
    const headers = await signRequest({ secret, method: 'POST', path: '/internal/echo', body: 'whatever', now })
    const response = await hono.request('/internal/echo', { method: 'POST', body: stream, headers, duplex: 'half' } as RequestInit)
    expect([response.status, await code(response)]).toEqual([413, 'body_too_large'])
    expect(counter.pulled).toBeLessThanOrEqual(max + 2 * 256)
  })

  it('answers a declared oversize body with 413 before the signature check', async () => {
    const { hono } = app()
    const { stream, counter } = endlessBody()
    const response = await hono.request('/internal/echo', { method: 'POST', body: stream, duplex: 'half', headers: { 'content-length': String(64 * 1024 * 1024) } } as RequestInit)
    expect([response.status, await code(response)]).toEqual([413, 'body_too_large'])
    expect(counter.pulled).toBeLessThanOrEqual(256)
  })
})
