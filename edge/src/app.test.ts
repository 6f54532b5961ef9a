import { exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from './app.ts'
import { modelCatalog } from './models/model-catalog.ts'
import { isSignedByEdge } from './testing/gpu-stand-in.ts'
import { gpuBreaker } from './upstream/gpu-client.ts'

// Bindings come from vitest.config.ts: GPU_SERVICE_URL=http://gpu.test and a test secret.
const models = {
  object: 'list',
  data: [{ id: 'snoopi-default', object: 'model', created: 1_764_000_000, owned_by: 'snoopi', ready: false }],
}

/**
 * Stands in for the GPU tier (it cannot run inside workerd): the worker's outbound fetch is
 * intercepted, and the stand-in checks each call with the GPU service's real signature verifier.
 */
function gpuStandIn(answer: (request: Request) => Response | Promise<Response>) {
  const calls: { request: Request; signatureOk: boolean }[] = []
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init)
    calls.push({ request, signatureOk: await isSignedByEdge(request) })
    return answer(request)
  })
  return calls
}

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded() // the breaker is per isolate; tests must not leak an open circuit
  modelCatalog.forget() // so is the model list: each test sees its own stand-in's answer
})

describe('edge worker', () => {
  it('answers /healthz without calling the GPU tier', async () => {
    const calls = gpuStandIn(() => Response.json(models))
    const response = await exports.default.fetch('https://api.test/healthz')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(calls).toHaveLength(0)
  })

  it('answers /healthz even when the bindings are misconfigured, and /v1/* with 500 misconfigured', async () => {
    const app = createApp()
    const broken = {} as Parameters<typeof app.fetch>[1]
    expect((await app.fetch(new Request('https://api.test/healthz'), broken)).status).toBe(200)
    const models = await app.fetch(new Request('https://api.test/v1/models'), broken)
    expect(models.status).toBe(500)
    expect((await models.json<{ error: { code: string } }>()).error.code).toBe('misconfigured')
  })

  it('keeps a safe client request id and replaces an unsafe one', async () => {
    const kept = await exports.default.fetch('https://api.test/healthz', { headers: { 'x-request-id': 'trace-42' } })
    expect(kept.headers.get('x-request-id')).toBe('trace-42')
    const replaced = await exports.default.fetch('https://api.test/healthz', { headers: { 'x-request-id': 'bad id\u0001' } })
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('proxies /v1/models to the GPU service with a valid signature', async () => {
    const calls = gpuStandIn(() => Response.json(models))
    const response = await exports.default.fetch('https://api.test/v1/models', { headers: { 'x-request-id': 'req-1' } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual(models)
    expect(calls).toHaveLength(1)
    expect(calls[0]?.request.url).toBe('http://gpu.test/internal/models')
    expect(calls[0]?.request.headers.get('x-request-id')).toBe('req-1')
    expect(calls[0]?.signatureOk).toBe(true)
  })

  it('turns an unreachable GPU tier into 503 with Retry-After, no internals leaked', async () => {
    gpuStandIn(() => {
      throw new TypeError('connect ECONNREFUSED 10.0.0.7:8788')
    })
    const response = await exports.default.fetch('https://api.test/v1/models')
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('5')
    const body = await response.text()
    expect(JSON.parse(body)).toEqual({
      error: {
        type: 'server_error',
        code: 'upstream_unavailable',
        message: 'the image service is unavailable, try again shortly',
      },
    })
    expect(body).not.toContain('10.0.0.7')
  })

  it.each([
    ['an upstream 500', () => new Response('boom: stack trace at gpu.ts:12', { status: 500 }), 'upstream_error'],
    ['an upstream 401 (secret mismatch)', () => Response.json({ error: {} }, { status: 401 }), 'upstream_error'],
    ['a malformed upstream list', () => Response.json({ object: 'list', data: [{ id: 3 }] }), 'upstream_error'],
  ])('turns %s into 502', async (_name, answer, code) => {
    gpuStandIn(answer)
    const response = await exports.default.fetch('https://api.test/v1/models')
    expect(response.status).toBe(502)
    const body = await response.text()
    expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe(code)
    expect(body).not.toContain('stack trace')
  })

  it('answers unknown routes with the OpenAI error shape', async () => {
    const response = await exports.default.fetch('https://api.test/v2/nothing')
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({
      error: { type: 'invalid_request_error', code: 'not_found', message: 'no route for GET /v2/nothing' },
    })
    expect(response.headers.get('x-request-id')).toBeTruthy()
  })
})
