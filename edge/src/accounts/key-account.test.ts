import { evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { AccountRecord } from './account-record.ts'
import { accountStub, type KeyAccountStub } from './account-stub.ts'
import { KeyAccount, SLOT_LEASE_MS } from './key-account.ts'
import { PLANS } from './plans.ts'
import { fakeClock } from '../testing/key-accounts.ts'

const record = (plan: AccountRecord['plan'] = 'test'): AccountRecord => ({
  id: 'key_ABCDEFGHIJKL',
  owner: 'acme',
  plan,
  scopes: ['images:generate'],
  createdAt: 1_772_366_400,
})

/** A fresh account (its own Durable Object) for each test, on a clock the test moves. */
async function account(plan: AccountRecord['plan'] = 'test', start?: number): Promise<{ stub: KeyAccountStub; clock: { advance(ms: number): void } }> {
  const stub = accountStub(env, `test-${crypto.randomUUID()}`)
  const clock = await fakeClock(stub, start)
  await stub.create(record(plan))
  return { stub, clock }
}

/**
 * What a method throws, called on the instance itself: a rejection that crosses the test harness's RPC
 * wrapper is also reported by workerd as an uncaught exception, which would make a clean run noisy.
 */
async function thrownBy(stub: KeyAccountStub, call: (instance: KeyAccount) => unknown): Promise<unknown> {
  return runInDurableObject(stub, async (instance: KeyAccount) => {
    try {
      await call(instance)
      return undefined
    } catch (error) {
      return String(error)
    }
  })
}

describe('KeyAccount', () => {
  it('holds the record, authenticates until revoked, and refuses a second create', async () => {
    const { stub } = await account()
    expect(await stub.authenticate()).toEqual(record())
    expect(await thrownBy(stub, (instance) => instance.create(record()))).toMatch(/already exists/)
    const revoked = await stub.revoke()
    expect(revoked?.revokedAt).toBeGreaterThan(0)
    expect(await stub.authenticate()).toBeNull()
    expect(await stub.revoke()).toEqual(revoked) // idempotent: the first time stays
    expect(await stub.admitRequest()).toBeNull()
    expect(await stub.consumeImages(1)).toBeNull()
  })

  it('knows nothing about a name it was never given', async () => {
    const stub = accountStub(env, 'never-created')
    expect(await stub.authenticate()).toBeNull()
    expect(await stub.revoke()).toBeNull()
    expect(await stub.usage()).toBeNull()
  })

  it('admits a burst, refuses the next request with an exact wait, and refills with time', async () => {
    const { stub, clock } = await account('test') // 3 per minute, burst 3, 2 concurrent
    const admitted = []
    for (let i = 0; i < 3; i++) {
      const admission = await stub.admitRequest()
      expect(admission).toMatchObject({ allowed: true, policy: 'requests', limit: 3, windowSeconds: 60, remaining: 2 - i })
      admitted.push(admission)
      await stub.release(admission?.slot ?? '')
    }
    // 20 s per token: one used → 20 s to full, two → 40 s, three → empty: 20 s until the next one.
    expect(admitted.map((a) => a?.resetSeconds)).toEqual([20, 40, 20])

    const refused = await stub.admitRequest()
    expect(refused).toMatchObject({ allowed: false, refusedBy: 'requests', retryAfterSeconds: 20, remaining: 0, resetSeconds: 20 })
    expect(refused?.slot).toBeUndefined()

    clock.advance(19_999)
    expect(await stub.admitRequest()).toMatchObject({ allowed: false, retryAfterSeconds: 1 })
    clock.advance(1)
    const again = await stub.admitRequest()
    expect(again).toMatchObject({ allowed: true, remaining: 0 })
    await stub.release(again?.slot ?? '')

    clock.advance(60_000)
    expect(await stub.admitRequest()).toMatchObject({ allowed: true, remaining: 2 }) // full again, not more
  })

  it('caps requests in flight, frees a slot on release, and expires a slot that was never released', async () => {
    const { stub, clock } = await account('free') // 2 concurrent
    const first = await stub.admitRequest()
    const second = await stub.admitRequest()
    expect([first?.allowed, second?.allowed]).toEqual([true, true])
    expect(await stub.admitRequest()).toMatchObject({ allowed: false, refusedBy: 'concurrency', retryAfterSeconds: 1, remaining: 8 })

    expect(await stub.release(first?.slot ?? '')).toBe(true)
    expect(await stub.release(first?.slot ?? '')).toBe(false)
    const third = await stub.admitRequest()
    expect(third?.allowed).toBe(true)
    expect(await stub.admitRequest()).toMatchObject({ allowed: false, refusedBy: 'concurrency' })

    // Both holders "crashed": their leases run out.
    clock.advance(SLOT_LEASE_MS - 1)
    expect(await stub.admitRequest()).toMatchObject({ allowed: false, refusedBy: 'concurrency' })
    clock.advance(1)
    expect((await stub.usage())?.inFlight).toBe(0)
    expect(await stub.admitRequest()).toMatchObject({ allowed: true })
  })

  it('takes images from a daily bucket, all or nothing', async () => {
    const { stub, clock } = await account('test') // 5 images a day
    expect(await stub.consumeImages(3)).toMatchObject({ allowed: true, policy: 'images', limit: 5, windowSeconds: 86_400, remaining: 2 })
    const refused = await stub.consumeImages(3)
    // One more image takes 86400 / 5 = 17280 s.
    expect(refused).toMatchObject({ allowed: false, refusedBy: 'images', remaining: 2, retryAfterSeconds: 17_280 })
    expect(await stub.consumeImages(2)).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 17_280 })
    expect(await stub.consumeImages(6)).toMatchObject({ allowed: false, retryAfterSeconds: 86_400 })
    clock.advance(17_280_000)
    expect(await stub.consumeImages(1)).toMatchObject({ allowed: true, remaining: 0 })
    expect(await thrownBy(stub, (instance) => instance.consumeImages(0))).toMatch(/RangeError: consumeImages: n must be a positive integer/)
    expect(await thrownBy(stub, (instance) => instance.consumeImages(1.5))).toMatch(/RangeError/)
  })

  it('describes the untouched images quota on every request admission', async () => {
    const { stub } = await account('test') // 5 images a day
    await stub.consumeImages(2)
    const admission = await stub.admitRequest()
    expect(admission?.images).toMatchObject({ allowed: true, policy: 'images', limit: 5, windowSeconds: 86_400, remaining: 3 })
    expect((await stub.usage())?.remaining.images).toBe(3)
  })

  it('undoes the admission of a request refused for images, once: token, slot and count given back', async () => {
    const { stub } = await account('test') // 3 requests a minute, 2 in flight, 5 images a day
    const before = await stub.usage()
    const admission = await stub.admitRequest()
    expect(admission).toMatchObject({ allowed: true, remaining: 2 })
    const refused = await stub.consumeImages(6, admission?.slot)
    expect(refused).toMatchObject({ allowed: false, refusedBy: 'images', remaining: 5, requests: { policy: 'requests', remaining: 3, resetSeconds: 0 } })
    const after = await stub.usage()
    expect(after?.remaining).toEqual(before?.remaining)
    expect([after?.today.requests, after?.total.requests, after?.inFlight]).toEqual([0, 0, 0])
    // The slot is gone: a second refusal with it gives nothing more back, and release finds nothing.
    expect((await stub.consumeImages(6, admission?.slot))?.requests).toBeUndefined()
    expect(await stub.release(admission?.slot ?? '')).toBe(false)
    expect((await stub.usage())?.remaining).toEqual({ requests: 3, images: 5 })
  })

  it('refunds images up to the capacity and reports the quota afterwards', async () => {
    const { stub } = await account('test')
    await stub.consumeImages(4)
    expect(await stub.refundImages(3)).toMatchObject({ allowed: true, policy: 'images', remaining: 4 })
    expect(await stub.refundImages(3)).toMatchObject({ remaining: 5 })
  })

  it('settles a request in one call: hands its slot back and counts its usage', async () => {
    const { stub } = await account('pro')
    const admission = await stub.admitRequest()
    expect(admission?.slot).toBeDefined()
    await stub.settle(admission?.slot, { images: 0, cacheHits: 1, cacheMisses: 0 })
    expect(await stub.release(admission!.slot!)).toBe(false) // already handed back
    expect((await stub.usage())?.today).toMatchObject({ cacheHits: 1, images: 0 })
    await stub.settle(undefined, undefined) // nothing to do is fine
  })

  it('counts usage today and in total, and starts a new day at UTC midnight', async () => {
    const { stub, clock } = await account('pro', Date.UTC(2026, 2, 1, 23, 59))
    const admission = await stub.admitRequest()
    await stub.release(admission?.slot ?? '')
    await stub.recordUsage({ images: 2, cacheMisses: 1 })
    await stub.recordUsage({ cacheHits: 1 })
    await stub.recordUsage({ images: -5, cacheHits: Number.NaN }) // nonsense counts nothing
    let usage = await stub.usage()
    expect(usage).toMatchObject({
      keyId: 'key_ABCDEFGHIJKL',
      plan: 'pro',
      limits: PLANS.pro,
      today: { day: '2026-03-01', images: 2, cacheHits: 1, cacheMisses: 1, requests: 1 },
      total: { images: 2, cacheHits: 1, cacheMisses: 1, requests: 1 },
      inFlight: 0,
      remaining: { requests: 29, images: 5000 },
    })

    clock.advance(60_000)
    await stub.recordUsage({ images: 1, cacheMisses: 1 })
    usage = await stub.usage()
    expect(usage?.today).toEqual({ day: '2026-03-02', images: 1, cacheHits: 0, cacheMisses: 1, requests: 0 })
    expect(usage?.total).toEqual({ images: 3, cacheHits: 1, cacheMisses: 2, requests: 1 })
  })

  it('keeps its test clock off RPC (instance fields are not callable through a stub)', async () => {
    // RPC reaches only what the prototype defines; the clock is an instance field.
    expect(Reflect.has(KeyAccount.prototype, 'clock')).toBe(false)
    const stub = accountStub(env, `test-${crypto.randomUUID()}`)
    expect(await runInDurableObject(stub, (instance: KeyAccount) => typeof instance.clock)).toBe('function')
  })

  it('keeps its limits through an eviction (state is in durable storage, not memory)', async () => {
    const stub = accountStub(env, `test-${crypto.randomUUID()}`) // the real clock: a fake one would not survive eviction
    await stub.create(record('test'))
    for (let i = 0; i < 3; i++) {
      const admission = await stub.admitRequest()
      await stub.release(admission?.slot ?? '')
    }
    const held = await stub.admitRequest()
    expect(held).toMatchObject({ allowed: false, refusedBy: 'requests' })
    await evictDurableObject(stub)
    expect(await stub.admitRequest()).toMatchObject({ allowed: false, refusedBy: 'requests' })
    expect((await stub.usage())?.total.requests).toBe(3)
  })
})

describe('KeyAccount.enterHit (a cache hit in one call)', () => {
  const own = { keyId: record().id, cacheScope: 'shared' } as const

  it('admits a hit in the key’s own namespace: a request token, no slot, the request and the hit counted in the same call', async () => {
    const { stub } = await account('test') // 3 requests a minute, 2 in flight
    const entered = await stub.enterHit('images:generate', own)
    expect(entered?.record).toEqual(record())
    expect(entered?.admission).toMatchObject({ allowed: true, cacheHit: true, policy: 'requests', remaining: 2, images: { policy: 'images', remaining: 5 } })
    expect(entered?.admission?.slot).toBeUndefined()
    const usage = await stub.usage()
    expect([usage?.inFlight, usage?.today.requests, usage?.today.cacheHits, usage?.total.cacheHits, usage?.remaining]).toEqual([0, 1, 1, 1, { requests: 2, images: 5 }])
  })

  it('is a plain admission (a slot, nothing counted but the request) when the namespace is not the key’s', async () => {
    const { stub } = await account('pro')
    for (const other of [
      { keyId: record().id, cacheScope: 'private' },
      { keyId: 'key_SOMEONEELSE0', cacheScope: 'private' },
    ] as const) {
      const entered = await stub.enterHit('images:generate', other)
      expect(entered?.admission).toMatchObject({ allowed: true })
      expect(entered?.admission?.cacheHit).toBeUndefined()
      expect(entered?.admission?.slot).toBeDefined()
    }
    const usage = await stub.usage()
    expect([usage?.inFlight, usage?.today.requests, usage?.today.cacheHits]).toEqual([2, 2, 0])
  })

  it('confirms a private key’s namespace by its id, and a pre-scope record’s as shared', async () => {
    const stub = accountStub(env, `test-${crypto.randomUUID()}`)
    await stub.create({ ...record('pro'), cacheScope: 'private' })
    expect((await stub.enterHit('images:generate', { keyId: record().id, cacheScope: 'private' }))?.admission?.cacheHit).toBe(true)
    expect((await stub.enterHit('images:generate', own))?.admission?.cacheHit).toBeUndefined()
    const { stub: old } = await account('pro') // a record without cacheScope
    expect((await old.enterHit('images:generate', { keyId: 'key_ANYTHING0000', cacheScope: 'shared' }))?.admission?.cacheHit).toBe(true)
  })

  it('refuses a hit like any request (rate limit, concurrency), writing nothing; a revoked key or a missing scope gets nothing', async () => {
    const { stub, clock } = await account('test') // 3 requests a minute, 2 in flight
    const held = [await stub.admitRequest(), await stub.admitRequest()]
    expect(await stub.enterHit('images:generate', own)).toMatchObject({ admission: { allowed: false, refusedBy: 'concurrency', retryAfterSeconds: 1, remaining: 1 } })
    await stub.release(held[0]?.slot ?? '')
    expect((await stub.enterHit('images:generate', own))?.admission).toMatchObject({ allowed: true, cacheHit: true, remaining: 0 })
    const refused = (await stub.enterHit('images:generate', own))?.admission
    expect(refused).toMatchObject({ allowed: false, refusedBy: 'requests', remaining: 0, retryAfterSeconds: 20 })
    let usage = await stub.usage()
    expect([usage?.today.requests, usage?.today.cacheHits, usage?.inFlight]).toEqual([3, 1, 1])
    clock.advance(20_000)
    expect((await stub.enterHit('images:generate', own))?.admission).toMatchObject({ allowed: true, cacheHit: true })

    const scoped = accountStub(env, `test-${crypto.randomUUID()}`)
    await scoped.create({ ...record('test'), scopes: ['usage:read'] })
    expect(await scoped.enterHit('images:generate', own)).toEqual({ record: { ...record('test'), scopes: ['usage:read'] }, admission: null })
    await stub.revoke()
    expect(await stub.enterHit('images:generate', own)).toBeNull()
    usage = await stub.usage()
    expect([usage?.today.requests, usage?.today.cacheHits]).toEqual([4, 2])
  })
})
