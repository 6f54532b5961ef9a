import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRequest } from '../contract/request-signature.ts'
import { loadServiceConfig } from '../config/service-config.ts'
import { loadBundle } from '../bundle/load/model-bundle.ts'
import { ServiceMetrics } from '../metrics/service-metrics.ts'
import type { ServedModel } from '../bundle/load/model-catalog.ts'
import { testBundle } from '../testing/bundles.ts'
import { chunk, rawRequest } from '../testing/raw-http.ts'
import { MAX_INTERNAL_BODY_BYTES as MAX_BODY_BYTES } from '../contract/limits.ts'
import { startServer, type RunningServer } from './server.ts'

const secret = 'f'.repeat(64)
let server: RunningServer
const rejections: string[] = []
const model: ServedModel = { id: 'tiny-test', loadedAt: undefined }

beforeAll(async () => {
  const config = loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0', MODEL_ID: 'tiny-test' })
  server = await startServer(config, model, new ServiceMetrics({ defaultMetrics: false }), (line) => rejections.push(line))
})
afterAll(() => server.close())

async function signedGet(path: string, overrides: { secret?: string; now?: number } = {}) {
  const headers = await signRequest({ method: 'GET', path, secret: overrides.secret ?? secret, now: overrides.now })
  return fetch(server.url + path, { headers })
}

describe('GPU service over HTTP', () => {
  it('answers /healthz without credentials', async () => {
    const response = await fetch(`${server.url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })

  it('lists its model to a signed request, not ready until the bundle is loaded', async () => {
    const list = async () => (await (await signedGet('/internal/models')).json()) as { object: string; data: Record<string, unknown>[] }
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503)
    const before = await list()
    expect(before.object).toBe('list')
    expect(before.data).toEqual([expect.objectContaining({ id: 'tiny-test', ready: false })])
    model.loadedAt = new Date()
    // The catalog and readiness read only the service's bundle.
    model.service = { bundle: loadBundle(testBundle('tiny')) } as unknown as ServedModel['service']
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
      expect((await list()).data).toEqual([
        expect.objectContaining({ id: 'tiny-test', ready: true, sizes: ['64x64', '32x32', '128x128'], default_nasa_alpha: 0.04 }),
      ])
    } finally {
      model.service = undefined
    }
  })

  it.each([
    ['no signature', () => fetch(`${server.url}/internal/models`), 'missing signature headers'],
    ['a wrong secret', () => signedGet('/internal/models', { secret: 'e'.repeat(64) }), 'signature mismatch'],
    ['a stale timestamp', () => signedGet('/internal/models', { now: Date.now() - 10 * 60_000 }), 'window'],
    ['a timestamp a minute ahead', () => signedGet('/internal/models', { now: Date.now() + 60_000 }), 'in the future'],
    [
      'a signature without a nonce (v1)',
      async () => {
        const { 'x-snoopi-nonce': _nonce, ...headers } = await signRequest({ method: 'GET', path: '/internal/models', secret })
        return fetch(`${server.url}/internal/models`, { headers })
      },
      'missing signature headers',
    ],
    [
      'a signature for another path',
      async () => {
        const headers = await signRequest({ method: 'GET', path: '/internal/other', secret })
        return fetch(`${server.url}/internal/models`, { headers })
      },
      'signature mismatch',
    ],
  ])('rejects %s with 401 and logs why', async (_name, send, reason) => {
    const response = await send()
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'invalid_signature',
        message: 'request signature missing, invalid or expired',
      },
    })
    expect(rejections.at(-1)).toContain(reason)
  })

  it('answers unknown routes with a JSON 404', async () => {
    const response = await fetch(`${server.url}/nope`)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })

  it('refuses a replayed signed request: same headers twice → 200, then 401 replayed_request', async () => {
    const headers = await signRequest({ method: 'GET', path: '/internal/models', secret })
    expect((await fetch(`${server.url}/internal/models`, { headers })).status).toBe(200)
    const replay = await fetch(`${server.url}/internal/models`, { headers })
    expect(replay.status).toBe(401)
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('replayed_request')
    expect(rejections.at(-1)).toContain(`nonce ${headers['x-snoopi-nonce']} already used`)
    // The next signature (a new nonce) passes.
    expect((await signedGet('/internal/models')).status).toBe(200)
  })
})

/** Headers anyone can make without the secret: well formed, fresh, a random MAC. */
function forgedHeaders(): string {
  const nonce = randomBytes(16).toString('hex')
  return `x-snoopi-timestamp: ${Math.floor(Date.now() / 1000)}\r\nx-snoopi-nonce: ${nonce}\r\nx-snoopi-signature: v2=${randomBytes(32).toString('hex')}\r\n`
}

const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code

describe('the front door: a body is paid for only up to the cap, and only after cheap checks', () => {
  it('answers a declared 64 MiB body with 413 before a byte of it is sent', async () => {
    for (const signature of ['', forgedHeaders()]) {
      const response = await rawRequest(server.url, `POST /internal/generate HTTP/1.1\r\nhost: gpu\r\ncontent-type: application/json\r\ncontent-length: ${64 * 1024 * 1024}\r\n${signature}\r\n`)
      expect(response.status).toBe(413)
      expect(JSON.parse(response.body)).toEqual({ error: { type: 'invalid_request_error', code: 'body_too_large', message: `request body over ${MAX_BODY_BYTES} bytes` } })
    }
  })

  it('answers an unsigned streamed body with 401 without waiting for it', async () => {
    const response = await rawRequest(server.url, 'POST /internal/generate HTTP/1.1\r\nhost: gpu\r\ntransfer-encoding: chunked\r\n\r\n', async (write) => {
      await write(chunk('{"prompt":'))
      // …and never finishes.
    })
    expect(response.status).toBe(401)
    expect(errorCode(response.body)).toBe('invalid_signature')
  })

  it('stops reading a streamed body with well-formed but forged headers once it passes the cap: 413', async () => {
    const piece = chunk(new Uint8Array(16 * 1024).fill(0x61))
    const response = await rawRequest(server.url, `POST /internal/generate HTTP/1.1\r\nhost: gpu\r\ntransfer-encoding: chunked\r\n${forgedHeaders()}\r\n`, async (write, answered) => {
      // Up to 4 MiB, never the terminating chunk: a server that buffers the whole body never answers.
      for (let sent = 0; sent < 4 * 1024 * 1024 && !answered(); sent += piece.length) await write(piece)
    })
    expect(response.status).toBe(413)
    expect(errorCode(response.body)).toBe('body_too_large')
  })

  it('hands a signed streamed body under the cap to the route', async () => {
    const body = JSON.stringify({ prompt: 'a red circle', seed: '1' })
    const headers = await signRequest({ method: 'POST', path: '/internal/generate', secret, body })
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
    const response = await rawRequest(server.url, `POST /internal/generate HTTP/1.1\r\nhost: gpu\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n${lines}\r\n`, async (write) => {
      await write(chunk(body.slice(0, 10)))
      await write(chunk(body.slice(10)))
      await write('0\r\n\r\n')
    })
    // Parsed and validated: the model is not loaded in this test, so the route says so.
    expect([response.status, errorCode(response.body)]).toEqual([503, 'loading'])
  })
})

describe('/metrics and the main listener', () => {
  it('serves /metrics on METRICS_PORT only', async () => {
    expect(server.metricsUrl).not.toBe(server.url)
    const metrics = await fetch(`${server.metricsUrl}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await metrics.text()).toMatch(/snoopi_in_flight_requests/)
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404)
    // The metrics listener serves nothing else.
    expect((await fetch(`${server.metricsUrl}/internal/models`)).status).toBe(404)
    expect((await fetch(`${server.metricsUrl}/healthz`)).status).toBe(404)
  })

  it.each([
    '/internal/../metrics',
    '/internal/%2e%2e/metrics',
    '/internal/%2E%2E/metrics',
    '/internal/.%2e/metrics',
    '/internal/%2e./models',
    '/internal/./models',
    '/internal/%2e/models',
    '/./healthz',
    '/internal%2fmodels',
    '/internal/models%2F..',
    '/internal%5cmodels',
    '/healthz/..',
  ])('refuses %s with 400 before routing', async (target) => {
    const response = await rawRequest(server.url, `GET ${target} HTTP/1.1\r\nhost: gpu\r\n\r\n`)
    expect(response.status).toBe(400)
    expect(errorCode(response.body)).toBe('invalid_path')
  })

  it('still answers ordinary targets, dots in the query included', async () => {
    expect((await rawRequest(server.url, 'GET /healthz?next=../metrics HTTP/1.1\r\nhost: gpu\r\n\r\n')).status).toBe(200)
    expect((await rawRequest(server.url, 'GET /internal/models HTTP/1.1\r\nhost: gpu\r\n\r\n')).status).toBe(401)
  })
})

describe('startServer', () => {
  it('fails cleanly when METRICS_PORT is taken: the error rejects and the API port is freed again', async () => {
    const listenOn = async (port: number) => {
      const server = createServer()
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
      return { server, port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(resolve)) }
    }
    const blocker = await listenOn(0)
    const probe = await listenOn(0) // a port that was free a moment ago, for the API
    await probe.close()
    try {
      const config = loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: String(probe.port), METRICS_PORT: String(blocker.port) })
      await expect(startServer(config, model, new ServiceMetrics({ defaultMetrics: false }), () => {})).rejects.toThrow(/EADDRINUSE/)
      // The API listener was closed again: its port can be bound.
      await (await listenOn(probe.port)).close()
    } finally {
      await blocker.close()
    }
  })

  it('closes both listeners', async () => {
    const config = loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0' })
    const running = await startServer(config, model, new ServiceMetrics({ defaultMetrics: false }), () => {})
    expect((await fetch(`${running.metricsUrl}/metrics`)).status).toBe(200)
    await running.close()
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow()
    await expect(fetch(`${running.metricsUrl}/metrics`)).rejects.toThrow()
  })
})
