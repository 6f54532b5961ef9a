// What a generation answer tells about the shared cache (created, x-cache, cache scopes), and which
// request headers force a new generation. The GPU tier is the shared stand-in (edge/src/testing).
import { env, exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ADMIN_TOKEN } from '../testing/key-accounts.ts'
import { canonicalRequest } from '../cache/canonical-request.ts'
import { manifestKey } from '../cache/image-store.ts'
import { requestHash } from '../cache/request-keys.ts'
import { generationRequestSchema } from '../api/generation-schema.ts'
import { gpuStandIn } from '../testing/gpu-stand-in.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

const api = 'https://api.test'
const CACHE_KEY_SECRET = 'test-cache-key-secret-0123456789abcdef01'
const MODEL = { id: 'snoopi-default', version: 'test-v1', sizes: ['64x64', '128x128'] }

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

async function createKey(cacheScope?: 'shared' | 'private'): Promise<{ key: string; id: string; cache_scope: string }> {
  const response = await exports.default.fetch(`${api}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'cache-policy-tests', plan: 'pro', ...(cacheScope ? { cache_scope: cacheScope } : {}) }),
  })
  expect(response.status).toBe(201)
  return response.json()
}

function generate(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${api}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

type Answer = { created: number; data: { url: string; seed: string }[] }
const unique = () => `a yellow star ${crypto.randomUUID()}`

describe('generation answers and the shared cache', () => {
  it('answers with created = now, never the stored generation’s time', async () => {
    gpuStandIn()
    const { key } = await createKey()
    const body = { prompt: unique() }
    expect((await generate(key, body)).headers.get('x-cache')).toBe('MISS')
    // Pretend the images were generated long ago (by someone else).
    const hash = await requestHash(CACHE_KEY_SECRET, canonicalRequest(generationRequestSchema.parse(body), MODEL))
    const stored = await env.IMAGES.get(manifestKey(hash))
    await env.IMAGES.put(manifestKey(hash), JSON.stringify({ ...(await stored!.json<object>()), created: 1_000_000_000 }))

    const before = Math.floor(Date.now() / 1000)
    const hit = await generate(key, body)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    const { created } = await hit.json<Answer>()
    expect(created).toBeGreaterThanOrEqual(before)
    expect(created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
  })

  it('gives a private key a cache of its own: no hits from other keys’ requests, none from its own for them', async () => {
    const upstream = gpuStandIn()
    const [shared, otherShared, mine, theirs] = [await createKey(), await createKey('shared'), await createKey('private'), await createKey('private')]
    expect([shared.cache_scope, mine.cache_scope]).toEqual(['shared', 'private'])
    const body = { prompt: unique(), n: 2 }
    const run = async (key: string) => {
      const response = await generate(key, body)
      return { cache: response.headers.get('x-cache'), answer: await response.json<Answer>() }
    }
    const first = await run(shared.key)
    const mineFirst = await run(mine.key)
    const mineAgain = await run(mine.key)
    const theirsFirst = await run(theirs.key)
    const otherSharedFirst = await run(otherShared.key)
    expect([first.cache, mineFirst.cache, mineAgain.cache, theirsFirst.cache, otherSharedFirst.cache]).toEqual(['MISS', 'MISS', 'HIT', 'MISS', 'HIT'])
    expect(upstream.calls).toBe(3)
    // Stored apart (other URLs), but the same request still means the same seeds.
    const urls = (a: Answer) => a.data.map((d) => d.url).join()
    expect(new Set([urls(first.answer), urls(mineFirst.answer), urls(theirsFirst.answer)]).size).toBe(3)
    expect(urls(mineAgain.answer)).toBe(urls(mineFirst.answer))
    expect(mineFirst.answer.data.map((d) => d.seed)).toEqual(first.answer.data.map((d) => d.seed))
  })
})

describe('forced regeneration', () => {
  it.each([
    [{ 'cache-control': 'no-cache' }, 'MISS'],
    [{ 'cache-control': 'No-Cache' }, 'MISS'],
    [{ 'cache-control': 'max-age=0' }, 'MISS'],
    [{ pragma: 'no-cache' }, 'MISS'],
    [{ 'cache-control': 'max-age=60' }, 'HIT'],
    [{ 'cache-control': 'x-no-cache' }, 'HIT'],
    [{ 'cache-control': 'x-note="no-cache"' }, 'HIT'],
  ])('%j → %s', async (headers, expected) => {
    const upstream = gpuStandIn()
    const { key } = await createKey()
    const body = { prompt: unique() }
    expect((await generate(key, body)).headers.get('x-cache')).toBe('MISS')
    const again = await generate(key, body, headers)
    expect([again.status, again.headers.get('x-cache')]).toEqual([200, expected])
    expect(upstream.calls).toBe(expected === 'MISS' ? 2 : 1)
  })
})
