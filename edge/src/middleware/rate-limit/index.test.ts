import { describe, expect, it } from 'vitest'
import { accountStub, type KeyAccountStub } from '../../accounts/account-stub.ts'
import { bearer, bindings, fakeClock, provisionKey, testApp } from '../../testing/key-accounts.ts'
import type { PlanName } from '../../accounts/plans.ts'
import { keyHash } from '../../keys/api-key.ts'
import { apiKeyAuth } from '../api-key-auth/index.ts'
import { rateLimit } from './index.ts'
import { chargeImages } from '../../testing/charge-images.ts'

/** Handlers of `/slow` wait here until the test lets them go. */
const gate = {
  entered: 0,
  open: Promise.withResolvers<void>(),
}

const app = testApp((routes) => {
  routes.use('/limited/*', apiKeyAuth(), rateLimit())
  routes.get('/limited/work', (c) => c.json({ ok: true }))
  routes.get('/limited/slow', async (c) => {
    gate.entered++
    await gate.open.promise
    return c.json({ ok: true })
  })
  routes.get('/limited/boom', () => {
    throw new Error('handler crashed')
  })
  routes.get('/limited/raw', () => new Response('raw', { headers: { 'content-type': 'text/plain' } }))
  // A revocation landing between authentication and admission.
  routes.get(
    '/revoked-midway',
    apiKeyAuth(),
    async (c, next) => {
      await c.get('account').stub.revoke()
      await next()
    },
    rateLimit(),
    (c) => c.json({ ok: true }),
  )
  routes.post('/limited/images', async (c) => {
    await chargeImages(c, Number(c.req.query('n')))
    return c.json({ ok: true })
  })
})

async function keyWithClock(plan: PlanName = 'test'): Promise<{ key: string; stub: KeyAccountStub; clock: { advance(ms: number): void } }> {
  const issued = await provisionKey(plan)
  const stub = accountStub(bindings, await keyHash(issued.key))
  return { key: issued.key, stub, clock: await fakeClock(stub) }
}

async function call(key: string, path = '/limited/work', method = 'GET'): Promise<Response> {
  return app.fetch(new Request(`https://api.test${path}`, { method, headers: bearer(key) }), bindings)
}

function limits(response: Response): { policy: string | null; state: string | null; retryAfter: string | null } {
  return { policy: response.headers.get('ratelimit-policy'), state: response.headers.get('ratelimit'), retryAfter: response.headers.get('retry-after') }
}

async function errorCode(response: Response): Promise<string> {
  return (await response.json<{ error: { code: string; type: string } }>()).error.code
}

describe('rateLimit', () => {
  it('sets the RateLimit headers on every success, refuses the (N+1)th request with 429 and Retry-After, and refills', async () => {
    const { key, clock } = await keyWithClock('test') // 3 per minute, burst 3: a token every 20 s
    const seen = []
    for (let i = 0; i < 3; i++) {
      const response = await call(key)
      expect(response.status).toBe(200)
      seen.push(limits(response))
    }
    expect(seen).toEqual([
      { policy: '"requests";q=3;w=60', state: '"requests";r=2;t=20', retryAfter: null },
      { policy: '"requests";q=3;w=60', state: '"requests";r=1;t=40', retryAfter: null },
      { policy: '"requests";q=3;w=60', state: '"requests";r=0;t=20', retryAfter: null },
    ])

    const refused = await call(key)
    expect(refused.status).toBe(429)
    expect(limits(refused)).toEqual({ policy: '"requests";q=3;w=60', state: '"requests";r=0;t=20', retryAfter: '20' })
    const body = await refused.json<{ error: { type: string; code: string; message: string } }>()
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(body.error.message).toMatch(/3 requests per minute/)

    clock.advance(15_000)
    expect(limits(await call(key))).toMatchObject({ state: '"requests";r=0;t=5', retryAfter: '5' })
    clock.advance(5_000)
    const refilled = await call(key)
    expect(refilled.status).toBe(200)
    expect(limits(refilled).state).toBe('"requests";r=0;t=20')
  })

  it('refuses with 429 while the plan’s number of requests is in flight, and lets the next one in once they finish', async () => {
    const { key, stub } = await keyWithClock('test') // 2 in flight at most
    gate.entered = 0
    gate.open = Promise.withResolvers<void>()
    const slow = [call(key, '/limited/slow'), call(key, '/limited/slow')]
    while (gate.entered < 2) await new Promise((resolve) => setTimeout(resolve, 5))

    const refused = await call(key)
    expect(refused.status).toBe(429)
    expect(await errorCode(refused)).toBe('concurrency_limit_exceeded')
    // Refused for concurrency: no token was taken (1 of 3 left), retry soon.
    expect(limits(refused)).toEqual({ policy: '"requests";q=3;w=60', state: '"requests";r=1;t=40', retryAfter: '1' })
    expect((await stub.usage())?.inFlight).toBe(2)

    gate.open.resolve()
    for (const response of await Promise.all(slow)) expect(response.status).toBe(200)
    expect((await stub.usage())?.inFlight).toBe(0)
    expect((await call(key)).status).toBe(200)
  })

  it('hands the slot back when the handler throws, and still sets the headers on the error', async () => {
    const { key, stub } = await keyWithClock('test')
    const crashed = await call(key, '/limited/boom')
    expect(crashed.status).toBe(500)
    expect(limits(crashed).state).toBe('"requests";r=2;t=20')
    const crashedAgain = await call(key, '/limited/boom')
    expect(crashedAgain.status).toBe(500)
    expect((await stub.usage())?.inFlight).toBe(0)
    // Two crashes did not use up the two slots.
    expect((await call(key)).status).toBe(200)
  })

  it('sets the headers on a raw Response with immutable-looking headers too', async () => {
    const { key } = await keyWithClock('test')
    const response = await call(key, '/limited/raw')
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('raw')
    expect(limits(response).state).toBe('"requests";r=2;t=20')
  })

  it('consumeImages: adds the images policy, and refuses past the daily quota with 429 image_quota_exceeded', async () => {
    const { key, clock } = await keyWithClock('test') // 5 images a day: one every 17280 s
    const first = await call(key, '/limited/images?n=3', 'POST')
    expect(first.status).toBe(200)
    expect(limits(first)).toEqual({
      policy: '"requests";q=3;w=60, "images";q=5;w=86400',
      state: '"requests";r=2;t=20, "images";r=2;t=51840',
      retryAfter: null,
    })

    const refused = await call(key, '/limited/images?n=3', 'POST')
    expect(refused.status).toBe(429)
    // The refused request's own requests token was given back: still 2 left, as after the first.
    expect(limits(refused)).toEqual({
      policy: '"requests";q=3;w=60, "images";q=5;w=86400',
      state: '"requests";r=2;t=20, "images";r=2;t=51840',
      retryAfter: '17280',
    })
    const body = await refused.json<{ error: { type: string; code: string } }>()
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'image_quota_exceeded' })

    clock.advance(17_280_000)
    expect((await call(key, '/limited/images?n=3', 'POST')).status).toBe(200)
    const tooMany = await call(key, '/limited/images?n=6', 'POST')
    expect(tooMany.status).toBe(429)
    expect((await tooMany.json<{ error: { message: string } }>()).error.message).toMatch(/asks for 6 images/)
  })

  it('leaves every bucket and counter as it was when a request is refused for images', async () => {
    const { key, stub } = await keyWithClock('test') // 3 requests a minute, 5 images a day
    expect((await call(key, '/limited/images?n=4', 'POST')).status).toBe(200)
    const before = await stub.usage()
    for (let i = 0; i < 3; i++) {
      const refused = await call(key, '/limited/images?n=2', 'POST')
      expect(refused.status).toBe(429)
      expect(await errorCode(refused)).toBe('image_quota_exceeded')
    }
    const after = await stub.usage()
    expect(after?.remaining).toEqual(before?.remaining)
    expect(after?.remaining).toEqual({ requests: 2, images: 1 })
    expect(after?.today.requests).toBe(1)
    expect(after?.inFlight).toBe(0)
    // Three refusals spent no requests: two more go through.
    expect((await call(key)).status).toBe(200)
    expect((await call(key)).status).toBe(200)
  })

  it('answers 401 when the key is revoked between authentication and admission', async () => {
    const { key } = await keyWithClock('test')
    const response = await call(key, '/revoked-midway')
    expect(response.status).toBe(401)
    expect(await errorCode(response)).toBe('invalid_api_key')
    expect(limits(response).state).toBeNull()
  })
})
