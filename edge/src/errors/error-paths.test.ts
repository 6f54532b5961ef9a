import { exports } from 'cloudflare:workers'
import fc from 'fast-check'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { gpuStandIn } from '../testing/gpu-stand-in.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

const api = 'https://api.test'
const adminToken = 'test-admin-token-0123456789abcdef0123456789'
const validBody = JSON.stringify({ prompt: 'a red circle', size: '64x64' })

let key: string
beforeAll(async () => {
  const response = await exports.default.fetch(`${api}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'error-paths', plan: 'enterprise' }),
  })
  key = (await response.json<{ key: string }>()).key
})

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

type ErrorBody = { error: { type: string; code: string; message: string } }

describe('error paths: every client mistake is a 4xx in the OpenAI shape', () => {
  it.each([
    ['form-encoded (plain curl -d)', 'application/x-www-form-urlencoded'],
    ['text/plain', 'text/plain;charset=UTF-8'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['no content type', undefined],
    ['a malformed content type', ';;;'],
  ])('refuses a %s body with 415 and asks the GPU tier for nothing', async (_name, contentType) => {
    const upstream = gpuStandIn()
    const headers: Record<string, string> = { authorization: `Bearer ${key}` }
    if (contentType !== undefined) headers['content-type'] = contentType
    const response = await exports.default.fetch(`${api}/v1/images/generations`, { method: 'POST', headers, body: validBody })
    expect(response.status).toBe(415)
    const body = await response.json<ErrorBody>()
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type' })
    expect(body.error.message).toMatch(/application\/json/)
    expect(upstream.calls).toBe(0)
  })

  it('accepts JSON with a charset and the +json suffix', async () => {
    gpuStandIn()
    for (const contentType of ['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.api+json']) {
      const response = await exports.default.fetch(`${api}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
        body: validBody,
      })
      expect(response.status, contentType).toBe(200)
    }
  })

  it('refuses a compressed body with 415 instead of misreading it', async () => {
    const upstream = gpuStandIn()
    for (const encoding of ['gzip', 'br', 'deflate', 'x-unknown']) {
      const response = await exports.default.fetch(`${api}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': encoding },
        body: encoding === 'gzip' ? await gzip(validBody) : validBody,
      })
      expect(response.status, encoding).toBe(415)
      expect((await response.json<ErrorBody>()).error.code).toBe('unsupported_content_encoding')
    }
    const identity = await exports.default.fetch(`${api}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': 'identity' },
      body: JSON.stringify({ prompt: 'an uncompressed blue square', size: '64x64' }),
    })
    expect(identity.status).toBe(200)
    expect(upstream.calls).toBe(1)
  })

  it('never answers 5xx to arbitrary methods, paths, content types, encodings, headers and bodies (property)', async () => {
    const upstream = gpuStandIn()
    const statuses = new Map<number, number>()
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD')
    const path = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('/v1/images/generations', '/v1/models', '/v1/models/snoopi-default', '/v1/usage', '/admin/keys', '/openapi.json', '/healthz', '/v1/images/0123456789abcdef0123456789abcdef.png', '/', '/playground', '/docs', '/static/playground.js') },
      { weight: 1, arbitrary: fc.webPath() },
    )
    const contentType = fc.option(
      fc.oneof(fc.constantFrom('application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/problem+json', ''), fc.string()),
      { nil: undefined },
    )
    const encoding = fc.option(fc.oneof(fc.constantFrom('gzip', 'identity', 'br', 'gzip, identity', ''), fc.string()), { nil: undefined })
    const auth = fc.option(fc.oneof(fc.constant(`Bearer ${key}`), fc.constant(`Bearer ${adminToken}`), fc.constant('Bearer snp_live_x'), fc.string()), { nil: undefined })
    const extra = fc.dictionary(
      fc.constantFrom('cache-control', 'pragma', 'range', 'if-none-match', 'if-modified-since', 'accept', 'accept-encoding', 'origin', 'x-request-id', 'idempotency-key', 'access-control-request-method', 'access-control-request-headers'),
      fc.string().map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    )
    const body = fc.oneof(
      fc.constant(validBody),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.uint8Array({ maxLength: 64 }),
      fc.constant(undefined),
    )
    await fc.assert(
      fc.asyncProperty(method, path, contentType, encoding, auth, extra, body, async (m, p, ct, enc, authorization, headers, payload) => {
        const init: RequestInit = { method: m, headers: { ...headers } }
        const h = init.headers as Record<string, string>
        if (ct !== undefined) h['content-type'] = ct.replace(/[^\x20-\x7e]/g, '')
        if (enc !== undefined) h['content-encoding'] = enc.replace(/[^\x20-\x7e]/g, '')
        if (authorization !== undefined) h.authorization = authorization.replace(/[^\x20-\x7e]/g, '')
        if (payload !== undefined && m !== 'GET' && m !== 'HEAD') init.body = payload
        const response = await exports.default.fetch(`${api}${p}`, init)
        await response.arrayBuffer()
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        if (response.status >= 400 && m !== 'HEAD') {
          // Every error is in the OpenAI shape (HEAD has no body).
          expect(response.headers.get('content-type')).toMatch(/application\/json/)
        }
        return response.status < 500
      }),
      { numRuns: 400 },
    )
    console.log(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; GPU calls ${upstream.calls}`)
    expect([...statuses.keys()].some((s) => s === 200)).toBe(true)
    expect([...statuses.keys()].some((s) => s === 415)).toBe(true)
  }, 120_000)
})

describe('CORS', () => {
  it('answers the API preflight with 204 before any key or storage is touched', async () => {
    const upstream = gpuStandIn()
    const response = await exports.default.fetch(`${api}/v1/images/generations`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
    })
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(',')
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']))
    expect(response.headers.get('access-control-allow-methods')).toMatch(/POST/)
    expect(upstream.calls).toBe(0)
  })

  it('exposes x-cache, the rate-limit headers and x-request-id on answers and on errors', async () => {
    gpuStandIn()
    const requests: RequestInit[] = [
      { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', origin: 'https://app.example' }, body: JSON.stringify({ prompt: 'a cors circle', size: '64x64' }) },
      { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://app.example' }, body: validBody },
    ]
    for (const init of requests) {
      const response = await exports.default.fetch(`${api}/v1/images/generations`, init)
      await response.arrayBuffer()
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      const exposed = (response.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(',')
      expect(exposed).toEqual(expect.arrayContaining(['x-cache', 'ratelimit', 'ratelimit-policy', 'x-request-id', 'retry-after']))
    }
  })
})
