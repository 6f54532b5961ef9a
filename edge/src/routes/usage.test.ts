import { describe, expect, it } from 'vitest'
import { accountStub } from '../accounts/account-stub.ts'
import { bearer, bindings, fakeClock, provisionKey, testApp } from '../testing/key-accounts.ts'
import { keyHash } from '../keys/api-key.ts'
import { apiKeyAuth } from '../middleware/api-key-auth/index.ts'
import { rateLimit } from '../middleware/rate-limit/index.ts'
import { usageRoutes } from './usage.ts'
import { chargeImages } from '../testing/charge-images.ts'

const app = testApp((routes) => {
  routes.route('/', usageRoutes)
  // Stands in for the generation route: admitted, takes n images, reports a hit or a miss.
  routes.post('/v1/fake-generation', apiKeyAuth(), rateLimit(), async (c) => {
    const n = Number(c.req.query('n'))
    const hit = c.req.query('cache') === 'hit'
    if (!hit) await chargeImages(c, n)
    await c.get('account').stub.recordUsage({ images: hit ? 0 : n, cacheHits: hit ? 1 : 0, cacheMisses: hit ? 0 : 1 })
    return c.json({ ok: true })
  })
})

async function get(key: string): Promise<Response> {
  return app.fetch(new Request('https://api.test/v1/usage', { headers: bearer(key) }), bindings)
}

describe('GET /v1/usage', () => {
  it('reports limits, what is left, and today’s and total counters', async () => {
    const issued = await provisionKey('test')
    const clock = await fakeClock(accountStub(bindings, await keyHash(issued.key)), Date.now())
    const generate = (query: string) => app.fetch(new Request(`https://api.test/v1/fake-generation?${query}`, { method: 'POST', headers: bearer(issued.key) }), bindings)
    expect((await generate('n=2')).status).toBe(200)
    expect((await generate('n=2&cache=hit')).status).toBe(200)

    const response = await get(issued.key)
    expect(response.status).toBe(200)
    expect(response.headers.get('ratelimit')).toBeNull() // reading usage is not rate-limited
    const today = new Date(Date.now()).toISOString().slice(0, 10)
    expect(await response.json()).toEqual({
      key_id: issued.id,
      plan: 'test',
      limits: { requests_per_minute: 3, request_burst: 3, images_per_day: 5, concurrent_requests: 2, queued_jobs: 2 },
      remaining: { requests: 1, images: 3 },
      in_flight: 0,
      today: { date: today, images: 2, cache_hits: 1, cache_misses: 1, requests: 2 },
      total: { images: 2, cache_hits: 1, cache_misses: 1, requests: 2 },
      jobs: { queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0 },
    })

    // A day later: today starts from zero, the totals stay, the buckets are full again.
    clock.advance(86_400_000)
    const later = await (await get(issued.key)).json<{ today: { requests: number; images: number }; total: { images: number }; remaining: unknown }>()
    expect(later.today).toMatchObject({ requests: 0, images: 0 })
    expect(later.total.images).toBe(2)
    expect(later.remaining).toEqual({ requests: 3, images: 5 })
  })

  it('needs a valid key with the usage:read scope', async () => {
    expect((await get('snp_live_nope')).status).toBe(401)
    const noScope = await provisionKey('test', ['images:generate'])
    const response = await get(noScope.key)
    expect(response.status).toBe(403)
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('insufficient_scope')
  })
})
