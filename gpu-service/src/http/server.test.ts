import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRequest } from '../auth/request-signature.ts'
import { loadServiceConfig } from '../config/service-config.ts'
import { loadBundle } from '../bundle/model-bundle.ts'
import { ServiceMetrics } from '../metrics/service-metrics.ts'
import type { ServedModel } from '../models/model-catalog.ts'
import { testBundle } from '../testing/bundles.ts'
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

})
