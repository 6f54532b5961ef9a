// How generation answers are charged and reported: only images generated for a request are charged
// (coalesced followers and hits are not), x-cache says which answer it was, and every answer carries
// both rate-limit policies. The GPU tier is the shared stand-in (edge/src/testing).
import { exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ADMIN_TOKEN } from '../testing/key-accounts.ts'
import { gpuStandIn, pngAnswer } from '../testing/gpu-stand-in.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

const api = 'https://api.test'

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

async function createKey(plan = 'pro', extra: Record<string, unknown> = {}): Promise<string> {
  const response = await exports.default.fetch(`${api}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'charging-tests', plan, ...extra }),
  })
  expect(response.status).toBe(201)
  return (await response.json<{ key: string }>()).key
}

function generate(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${api}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

type Usage = { remaining: { requests: number; images: number }; today: { images: number; cache_hits: number; cache_misses: number; requests: number } }

async function usage(key: string): Promise<Usage> {
  return (await exports.default.fetch(`${api}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json<Usage>()
}

/** The images quota's `r` in a response's RateLimit header. */
function imagesLeft(response: Response): number | undefined {
  const match = /"images";r=(\d+);/.exec(response.headers.get('ratelimit') ?? '')
  return match ? Number(match[1]) : undefined
}

const unique = () => `a green triangle ${crypto.randomUUID()}`

describe('charging generation answers', () => {
  it('charges only the request whose images were generated when 10 keys send the same new n=4 request at once', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const upstream = gpuStandIn(async (body) => {
      await gate
      return pngAnswer(body)
    })
    const keys = await Promise.all(Array.from({ length: 10 }, () => createKey('pro'))) // 5000 images a day
    const prompt = unique()
    const pending = keys.map((key) => generate(key, { prompt, n: 4 }))
    await vi.waitFor(() => expect(upstream.calls).toBe(1))
    await new Promise((resolve) => setTimeout(resolve, 100))
    release()
    const responses = await Promise.all(pending)

    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(upstream.calls).toBe(1)
    const answers = responses.map((r) => r.headers.get('x-cache'))
    expect(answers.filter((a) => a === 'MISS')).toHaveLength(1)
    // The others waited on the generation (a very slow one could arrive after it was stored: a HIT).
    expect(answers.filter((a) => a === 'COALESCED').length).toBeGreaterThan(0)
    expect(answers.filter((a) => a !== 'MISS').every((a) => a === 'COALESCED' || a === 'HIT')).toBe(true)
    // Each answer reports its own key's quota: 4 images fewer for the one that was generated, none for the rest.
    expect(responses.map((r, i) => [answers[i], imagesLeft(r)])).toEqual(answers.map((a) => [a, a === 'MISS' ? 4996 : 5000]))
    for (const response of responses) expect(response.headers.get('ratelimit-policy')).toBe('"requests";q=120;w=60, "images";q=5000;w=86400')
    const urls = await Promise.all(responses.map(async (r) => (await r.json<{ data: { url: string }[] }>()).data.map((d) => d.url).join()))
    expect(new Set(urls).size).toBe(1)

    // The counters agree with the charges: 4 images and 1 miss in all, 9 hits (usage is counted after the response).
    await vi.waitFor(async () => {
      const all = await Promise.all(keys.map(usage))
      const sum = (pick: (u: Usage) => number) => all.reduce((total, u) => total + pick(u), 0)
      expect([sum((u) => u.today.images), sum((u) => u.today.cache_misses), sum((u) => u.today.cache_hits), sum((u) => u.remaining.images)]).toEqual([4, 1, 9, 10 * 5000 - 4])
    })
  })

  it('answers an identical request like a hit, free, even for a key with no images left', async () => {
    gpuStandIn()
    const prompt = unique()
    const generous = await createKey('pro')
    expect((await generate(generous, { prompt, n: 4 })).headers.get('x-cache')).toBe('MISS')
    const broke = await createKey('test')
    expect((await generate(broke, { prompt: unique(), n: 4 })).status).toBe(200) // 1 image left
    const hit = await generate(broke, { prompt, n: 4 })
    expect([hit.status, hit.headers.get('x-cache')]).toEqual([200, 'HIT'])
    expect(hit.headers.get('ratelimit-policy')).toBe('"requests";q=3;w=60, "images";q=5;w=86400')
    expect(imagesLeft(hit)).toBe(1)
  })

  it('refuses a miss the key cannot pay for without spending its request token, slot or counters', async () => {
    const upstream = gpuStandIn()
    const key = await createKey('test') // 3 requests a minute, 2 in flight, 5 images a day
    expect((await generate(key, { prompt: unique(), n: 4 })).status).toBe(200)
    const before = await usage(key)
    const refused = await generate(key, { prompt: unique(), n: 2 })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBeTruthy()
    expect(refused.headers.get('ratelimit')).toMatch(new RegExp(`^"requests";r=${before.remaining.requests};t=\\d+, "images";r=1;t=\\d+$`))
    const after = await usage(key)
    expect([after.remaining, after.today.requests]).toEqual([before.remaining, before.today.requests])
    expect(upstream.calls).toBe(1)
  })
})
