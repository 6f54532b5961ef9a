// The cache hit's path: the manifest is looked up before admission, and a hit costs the key's Durable
// Object one call (`enterHit`) that checks the key and its limits and counts the hit, with nothing
// settled after the response. Limits, revocation and private cache scopes hold exactly as on the
// path of a miss. The GPU tier is the shared stand-in (edge/src/testing).
import { env, exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { accountStub } from '../accounts/account-stub.ts'
import { KeyAccount } from '../accounts/key-account.ts'
import { keyHash } from '../keys/api-key.ts'
import { cacheScopeHints } from '../middleware/api-key-auth/cache-scope-hints.ts'
import { ADMIN_TOKEN, bindings, fakeClock } from '../testing/key-accounts.ts'
import { gpuStandIn, pngAnswer } from '../testing/gpu-stand-in.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

const api = 'https://api.test'

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

interface Key {
  key: string
  id: string
  hash: string
}

async function createKey(plan = 'pro', cacheScope?: 'shared' | 'private'): Promise<Key> {
  const response = await exports.default.fetch(`${api}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'hit-path-tests', plan, ...(cacheScope ? { cache_scope: cacheScope } : {}) }),
  })
  expect(response.status).toBe(201)
  const { key, id } = await response.json<{ key: string; id: string }>()
  return { key, id, hash: await keyHash(key) }
}

function generate(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${api}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

type Usage = { remaining: { requests: number; images: number }; in_flight: number; today: { images: number; cache_hits: number; cache_misses: number; requests: number } }

async function usage(key: string): Promise<Usage> {
  return (await exports.default.fetch(`${api}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json<Usage>()
}

async function errorCode(response: Response): Promise<string> {
  return (await response.json<{ error: { code: string } }>()).error.code
}

/** Counts the key accounts' calls that admit and settle requests, and the R2 reads of the worker. */
function countCalls(): { enter: number; enterHit: number; settle: number; r2Gets: number } {
  const counts = { enter: 0, enterHit: 0, settle: 0, r2Gets: 0 }
  for (const method of ['enter', 'enterHit', 'settle'] as const) {
    const original = Reflect.get(KeyAccount.prototype, method) as (...args: unknown[]) => unknown
    vi.spyOn(KeyAccount.prototype, method).mockImplementation(function (this: KeyAccount, ...args: unknown[]) {
      counts[method]++
      return original.apply(this, args) as never
    })
  }
  const get = env.IMAGES.get.bind(env.IMAGES)
  vi.spyOn(env.IMAGES, 'get').mockImplementation((...args: Parameters<R2Bucket['get']>) => {
    counts.r2Gets++
    return get(...args)
  })
  return counts
}

/** Lets anything a response left running (waitUntil) finish before the counters are read. */
const settleBackground = () => new Promise((resolve) => setTimeout(resolve, 100))

const unique = () => `a blue square ${crypto.randomUUID()}`
const ratelimit = (response: Response) => ({ policy: response.headers.get('ratelimit-policy'), state: response.headers.get('ratelimit'), retryAfter: response.headers.get('retry-after') })

describe('a cache hit: one Durable Object call', () => {
  it('answers a hit with one enterHit call, no settle after the response and no R2 read, and counts it exactly once', async () => {
    gpuStandIn()
    const { key, hash } = await createKey('pro')
    await fakeClock(accountStub(bindings, hash)) // no refill while the test counts tokens
    const body = { prompt: unique(), n: 2 }
    const miss = await generate(key, body)
    expect(miss.headers.get('x-cache')).toBe('MISS')
    const missUrls = (await miss.json<{ data: { url: string }[] }>()).data.map((d) => d.url)
    await settleBackground()
    const before = await usage(key)

    const calls = countCalls()
    for (let i = 0; i < 3; i++) {
      const hit = await generate(key, body)
      expect([hit.status, hit.headers.get('x-cache')]).toEqual([200, 'HIT'])
      expect((await hit.json<{ data: { url: string }[] }>()).data.map((d) => d.url)).toEqual(missUrls)
      // Both policies, as on every generation answer: the request just taken, the images untouched.
      expect(ratelimit(hit).policy).toBe('"requests";q=120;w=60, "images";q=5000;w=86400')
      expect(ratelimit(hit).state).toMatch(new RegExp(`^"requests";r=${before.remaining.requests - 1 - i};t=\\d+, "images";r=${before.remaining.images};t=\\d+$`))
    }
    await settleBackground()
    expect(calls).toEqual({ enter: 0, enterHit: 3, settle: 0, r2Gets: 0 })

    const after = await usage(key)
    expect(after.today).toEqual({ ...before.today, requests: before.today.requests + 3, cache_hits: before.today.cache_hits + 3 })
    expect(after.remaining).toEqual({ requests: before.remaining.requests - 3, images: before.remaining.images })
    expect(after.in_flight).toBe(0)
  })

  it('takes the path of a miss for what the lookup cannot answer: an unknown manifest, base64, Idempotency-Key, forced regeneration', async () => {
    const upstream = gpuStandIn()
    const { key } = await createKey('pro')
    const body = { prompt: unique() }
    expect((await generate(key, body)).headers.get('x-cache')).toBe('MISS')
    await settleBackground()
    const before = await usage(key)
    const calls = countCalls()
    const answers = [
      await generate(key, { ...body, response_format: 'b64_json' }),
      await generate(key, body, { 'idempotency-key': crypto.randomUUID() }),
      await generate(key, body, { 'cache-control': 'no-cache' }),
    ]
    expect(answers.map((a) => a.headers.get('x-cache'))).toEqual(['HIT', 'HIT', 'MISS'])
    await settleBackground()
    expect([calls.enter, calls.enterHit, calls.settle]).toEqual([3, 0, 3])
    expect(upstream.calls).toBe(2)
    const after = await usage(key)
    expect(after.today).toMatchObject({ requests: before.today.requests + 3, cache_hits: before.today.cache_hits + 2, cache_misses: before.today.cache_misses + 1 })
  })

  it('refuses a revoked key’s hit on the very next request, and keeps refusing it', async () => {
    gpuStandIn()
    const { key, id } = await createKey('pro')
    const body = { prompt: unique() }
    expect((await generate(key, body)).headers.get('x-cache')).toBe('MISS')
    expect((await generate(key, body)).headers.get('x-cache')).toBe('HIT') // the one-call path: the isolate knows the key
    const revoked = await exports.default.fetch(`${api}/admin/keys/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(revoked.status).toBe(200)
    for (let i = 0; i < 2; i++) {
      const refused = await generate(key, body)
      expect(refused.status).toBe(401)
      expect(refused.headers.get('x-cache')).toBeNull()
      expect(await errorCode(refused)).toBe('invalid_api_key')
    }
  })

  it('answers 429 on a hit once the requests per minute are spent, as before, counting nothing refused', async () => {
    gpuStandIn()
    const { key, hash } = await createKey('test') // 3 requests a minute (burst 3), 2 in flight
    const clock = await fakeClock(accountStub(bindings, hash))
    const body = { prompt: unique() }
    expect((await generate(key, body)).headers.get('x-cache')).toBe('MISS')
    expect((await generate(key, body)).headers.get('x-cache')).toBe('HIT')
    expect((await generate(key, body)).headers.get('x-cache')).toBe('HIT')
    const refused = await generate(key, body)
    expect(refused.status).toBe(429)
    expect(await errorCode(refused)).toBe('rate_limit_exceeded')
    expect(ratelimit(refused)).toEqual({ policy: '"requests";q=3;w=60', state: '"requests";r=0;t=20', retryAfter: '20' })
    await settleBackground()
    expect((await usage(key)).today).toMatchObject({ requests: 3, cache_hits: 2, cache_misses: 1 })
    clock.advance(20_000)
    const again = await generate(key, body)
    expect([again.status, again.headers.get('x-cache')]).toEqual([200, 'HIT'])
  })

  it('answers 429 on a hit while the key has its plan’s requests in flight, though a hit takes no slot', async () => {
    const gate = Promise.withResolvers<void>()
    const upstream = gpuStandIn(async (body) => {
      await gate.promise
      return pngAnswer(body)
    })
    const { key, hash } = await createKey('test') // 3 requests a minute (burst 3), 2 in flight
    const clock = await fakeClock(accountStub(bindings, hash))
    const body = { prompt: unique() }
    const warm = generate(key, body)
    await vi.waitFor(() => expect(upstream.calls).toBe(1))
    gate.resolve()
    expect((await warm).headers.get('x-cache')).toBe('MISS')
    await settleBackground()
    clock.advance(60_000) // a full bucket again

    const held = Promise.withResolvers<void>()
    upstream.calls = 0
    vi.restoreAllMocks()
    gpuStandIn(async (b) => {
      upstream.calls++
      await held.promise
      return pngAnswer(b)
    })
    const misses = [generate(key, { prompt: unique() }), generate(key, { prompt: unique() })]
    await vi.waitFor(() => expect(upstream.calls).toBe(2))
    const refused = await generate(key, body)
    expect(refused.status).toBe(429)
    expect(await errorCode(refused)).toBe('concurrency_limit_exceeded')
    held.resolve()
    expect((await Promise.all(misses)).map((m) => m.status)).toEqual([200, 200])
    await settleBackground()
    const hit = await generate(key, body)
    expect([hit.status, hit.headers.get('x-cache')]).toEqual([200, 'HIT'])
  })
})

describe('a hit under a private cache scope', () => {
  it('never serves another key’s private entry, nor a shared one, even when the isolate’s hint of the key’s scope is wrong', async () => {
    const upstream = gpuStandIn()
    const [mine, theirs, shared] = [await createKey('pro', 'private'), await createKey('pro', 'private'), await createKey('pro')]
    const body = { prompt: unique() }
    const urls = async (response: Response) => (await response.json<{ data: { url: string }[] }>()).data.map((d) => d.url).join()
    const theirsFirst = await generate(theirs.key, body)
    const sharedFirst = await generate(shared.key, body)
    expect([theirsFirst.headers.get('x-cache'), sharedFirst.headers.get('x-cache')]).toEqual(['MISS', 'MISS'])
    const [theirUrls, sharedUrls] = [await urls(theirsFirst), await urls(sharedFirst)]
    expect(upstream.calls).toBe(2)

    // The isolate believes my key is theirs, then shared: both entries exist under those namespaces.
    const calls = countCalls()
    cacheScopeHints.learn(mine.hash, { keyId: theirs.id, cacheScope: 'private' })
    const first = await generate(mine.key, body)
    expect(first.headers.get('x-cache')).toBe('MISS')
    const myUrls = await urls(first)
    expect(myUrls).not.toBe(theirUrls)
    expect(myUrls).not.toBe(sharedUrls)
    expect(upstream.calls).toBe(3)
    // The object corrected the hint: the next request looks under my own namespace and is my own hit.
    expect(cacheScopeHints.get(mine.hash)).toEqual({ keyId: mine.id, cacheScope: 'private' })
    const again = await generate(mine.key, body)
    expect([again.headers.get('x-cache'), await urls(again)]).toEqual(['HIT', myUrls])

    cacheScopeHints.learn(mine.hash, { keyId: mine.id, cacheScope: 'shared' })
    const otherPrompt = { prompt: unique() }
    expect((await generate(shared.key, otherPrompt)).headers.get('x-cache')).toBe('MISS')
    const wrongShared = await generate(mine.key, otherPrompt)
    expect(wrongShared.headers.get('x-cache')).toBe('MISS')
    expect(upstream.calls).toBe(5)
    await settleBackground()
    // Each wrong hint cost one call, answered as an admission (slot, settled): nothing was counted as a hit.
    expect([calls.enterHit, calls.enter]).toEqual([3, 1])
    expect((await usage(mine.key)).today).toMatchObject({ requests: 3, cache_hits: 1, cache_misses: 2 })
  })
})
