import { exports, env } from 'cloudflare:workers'
import { listDurableObjectIds } from 'cloudflare:test'
import fc from 'fast-check'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { gpuStandIn, pngAnswer } from '../testing/gpu-stand-in.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

// Bindings come from vitest.config.ts; the GPU tier is the shared stand-in (it cannot run in workerd).
const adminToken = 'test-admin-token-0123456789abcdef0123456789'
const api = 'https://api.test'

async function createKey(plan = 'pro'): Promise<string> {
  const response = await exports.default.fetch(`${api}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'tests', plan }),
  })
  expect(response.status).toBe(201)
  return (await response.json<{ key: string }>()).key
}

let key: string
beforeAll(async () => {
  key = await createKey()
})
afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

const generate = (body: unknown, headers: Record<string, string> = {}, apiKey = key) =>
  exports.default.fetch(`${api}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

type Answer = { created: number; data: { url?: string; b64_json?: string; seed: string; revised_prompt: string }[] }
const unique = () => `a red circle ${crypto.randomUUID()}`

describe('POST /v1/images/generations', () => {
  it('generates on a miss, stores in R2, and serves the same request from cache without the GPU tier', async () => {
    const upstream = gpuStandIn()
    const prompt = unique()
    const first = await generate({ prompt, n: 2, size: '64x64' })
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(first.headers.get('ratelimit')).toMatch(/"requests";r=\d+;t=\d+/)
    expect(first.headers.get('ratelimit-policy')).toMatch(/"requests";q=120;w=60/)
    expect(first.headers.get('x-request-id')).toBeTruthy()
    const answer = await first.json<Answer>()
    expect(answer.data).toHaveLength(2)
    expect(BigInt(answer.data[1]!.seed) - BigInt(answer.data[0]!.seed)).toBe(1n)
    expect(answer.data[0]!.url).toMatch(/^https:\/\/api\.test\/v1\/images\/[0-9a-f]{32}\.png$/)
    const image = await exports.default.fetch(answer.data[0]!.url!)
    expect(image.status).toBe(200)
    expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(await image.text()).toContain(`fake ${prompt} ${answer.data[0]!.seed}`)

    const second = await generate({ prompt, n: 2, size: '64x64' })
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect((await second.json<Answer>()).data.map((d) => d.url)).toEqual(answer.data.map((d) => d.url))
    expect(upstream.calls).toBe(1)
  })

  it('forwards the canonical request, signed, with the derived seed', async () => {
    const upstream = gpuStandIn()
    await generate({ prompt: '  a   blue\tsquare ', negative_prompt: 'red', size: '128x128', guidance: { mode: 'nasa', alpha: 0.5, projection: true } })
    expect(upstream.bodies[0]).toMatchObject({ prompt: 'a blue square', negative_prompt: 'red', n: 1, size: '128x128', model: 'snoopi-default', model_version: 'test-v1', guidance: { mode: 'nasa', alpha: 0.5, projection: true } })
    expect(upstream.bodies[0]!.seed).toMatch(/^\d+$/)
  })

  it('treats prompts that differ only in Unicode normalisation or whitespace as one cache entry', async () => {
    const upstream = gpuStandIn()
    const tag = crypto.randomUUID()
    const nfc = await generate({ prompt: `caf\u00e9 crème ${tag}` })
    const nfd = await generate({ prompt: `  cafe\u0301   cre\u0300me\n${tag} ` })
    expect([nfc.headers.get('x-cache'), nfd.headers.get('x-cache')]).toEqual(['MISS', 'HIT'])
    expect(upstream.calls).toBe(1)
  })

  it('makes one upstream call for 20 concurrent identical misses, and answers all of them the same', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const upstream = gpuStandIn(async (body) => {
      await gate
      return pngAnswer(body)
    })
    const keys = await Promise.all([1, 2, 3, 4].map(() => createKey()))
    const prompt = unique()
    const pending = Array.from({ length: 20 }, (_, i) => generate({ prompt }, {}, keys[i % 4]))
    await new Promise((r) => setTimeout(r, 100))
    release()
    const responses = await Promise.all(pending)
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200))
    const urls = await Promise.all(responses.map(async (r) => (await r.json<Answer>()).data[0]!.url))
    expect(new Set(urls).size).toBe(1)
    expect(upstream.calls).toBe(1)
  })

  it('regenerates when the request says Cache-Control: no-cache', async () => {
    const upstream = gpuStandIn()
    const prompt = unique()
    await generate({ prompt })
    const again = await generate({ prompt }, { 'cache-control': 'no-cache' })
    expect(again.headers.get('x-cache')).toBe('MISS')
    expect(upstream.calls).toBe(2)
  })

  it('reports the prompt tokens the text encoder could not read, on the miss and on later hits', async () => {
    gpuStandIn(async (body) => {
      const answer = pngAnswer(body)
      const form = await answer.formData()
      const meta = JSON.parse(await (form.get('meta') as unknown as File).text()) as { images: Record<string, unknown>[] }
      for (const image of meta.images) image.dropped_tokens = 12
      form.set('meta', new Blob([JSON.stringify(meta)]), 'meta.json')
      return new Response(form)
    })
    const body = { prompt: unique(), n: 2, size: '64x64' }
    for (const expected of ['MISS', 'HIT']) {
      const response = await generate(body)
      expect(response.headers.get('x-cache')).toBe(expected)
      const answer = await response.json<{ data: { dropped_tokens?: number }[] }>()
      expect(answer.data.map((image) => image.dropped_tokens)).toEqual([12, 12])
    }
  })

  it('returns base64 images on request', async () => {
    gpuStandIn()
    const prompt = unique()
    const answer = await (await generate({ prompt, response_format: 'b64_json' })).json<Answer>()
    expect(atob(answer.data[0]!.b64_json!)).toContain(`fake ${prompt}`)
    expect(answer.data[0]!.url).toBeUndefined()
  })

  it('serves hits but fails misses fast with 503 + Retry-After when the GPU tier is down', async () => {
    gpuStandIn()
    const cached = unique()
    await generate({ prompt: cached })
    vi.restoreAllMocks()
    gpuStandIn(() => {
      throw new TypeError('connect ECONNREFUSED')
    })
    const hit = await generate({ prompt: cached })
    expect([hit.status, hit.headers.get('x-cache')]).toEqual([200, 'HIT'])
    const started = Date.now()
    const miss = await generate({ prompt: unique() })
    expect(miss.status).toBe(503)
    expect(Number(miss.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await miss.json<{ error: { code: string } }>()).error.code).toBe('upstream_unavailable')
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('gives the images of a failed generation back to the daily quota', async () => {
    gpuStandIn(() => new Response('boom', { status: 500 }))
    const testKey = await createKey('test') // 5 images a day
    // Two failures of 4 images each: without refunds the second would already exceed the 5-image quota.
    for (let i = 0; i < 2; i++) expect((await generate({ prompt: unique(), n: 4 }, {}, testKey)).status).toBe(502)
    vi.restoreAllMocks()
    gpuStandIn()
    const usage = await (await exports.default.fetch(`${api}/v1/usage`, { headers: { authorization: `Bearer ${testKey}` } })).json<{ today: { images: number } }>()
    expect(usage.today.images).toBe(0)
    const ok = await generate({ prompt: unique(), n: 4 }, {}, testKey)
    expect(ok.status).toBe(200)
    expect(ok.headers.get('ratelimit')).toMatch(/"images";r=1;/)
  })

  it('answers 504 when the GPU tier times out, and writes nothing to R2', async () => {
    // An upstream that never answers (it only stops when the edge's deadline aborts the call).
    gpuStandIn((_body, request) => new Promise<Response>((_resolve, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason as Error))))
    const before = (await env.IMAGES.list({ prefix: 'requests/' })).objects.length
    const response = await generate({ prompt: unique() }, {}, key)
    expect(response.status).toBe(504)
    expect((await env.IMAGES.list({ prefix: 'requests/' })).objects.length).toBe(before)
  }, 20_000)

  it('caches nothing when the GPU tier serves another model version (409), and answers 502', async () => {
    const upstream = gpuStandIn(() =>
      Response.json({ error: { type: 'invalid_request_error', code: 'model_version_mismatch', message: 'this service serves "snoopi-default" version "v9"' } }, { status: 409 }),
    )
    const before = (await env.IMAGES.list()).objects.length
    const prompt = unique()
    const response = await generate({ prompt })
    expect(response.status).toBe(502)
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('upstream_error')
    expect(upstream.bodies[0]).toMatchObject({ prompt, model_version: 'test-v1' })
    expect((await env.IMAGES.list()).objects.length).toBe(before)
  })

  it.each([
    ['n above 4', { prompt: 'x', n: 5 }, 400],
    ['an empty prompt', { prompt: '' }, 400],
    ['a prompt over 2000 characters', { prompt: 'x'.repeat(2001) }, 400],
    ['a size the model does not offer', { prompt: 'x', size: '512x512' }, 400],
    ['an unknown model', { prompt: 'x', model: 'dall-e-3' }, 404],
    ['a body that is not JSON', '{"prompt": ', 400],
    ['a body over 16 KiB', { prompt: 'x', user: 'u'.repeat(17_000) }, 413],
  ])('rejects %s before any storage or upstream work', async (_name, body, status) => {
    const upstream = gpuStandIn()
    const accountsBefore = (await listDurableObjectIds(env.KEY_ACCOUNTS)).length
    const response = await generate(body, {}, 'snp_live_not-even-a-well-formed-key')
    expect(response.status).toBe(status)
    expect((await response.json<{ error: { type: string } }>()).error.type).toBe('invalid_request_error')
    expect(upstream.calls).toBe(0)
    expect((await listDurableObjectIds(env.KEY_ACCOUNTS)).length).toBe(accountsBefore)
  })

  it('refuses a key without the images:generate scope with 403, taking no rate-limit token', async () => {
    const response = await exports.default.fetch(`${api}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ owner: 'tests', plan: 'test', scopes: ['usage:read'] }),
    })
    const { key: readOnly } = await response.json<{ key: string }>()
    const upstream = gpuStandIn()
    for (let i = 0; i < 4; i++) {
      const refused = await generate({ prompt: unique() }, {}, readOnly)
      expect(refused.status).toBe(403)
      expect((await refused.json<{ error: { code: string } }>()).error.code).toBe('insufficient_scope')
    }
    const usage = await (await exports.default.fetch(`${api}/v1/usage`, { headers: { authorization: `Bearer ${readOnly}` } })).json<{ today: { requests: number } }>()
    expect(usage.today.requests).toBe(0)
    expect(upstream.calls).toBe(0)
  })

  it('needs a key', async () => {
    const response = await exports.default.fetch(`${api}/v1/images/generations`, { method: 'POST', body: JSON.stringify({ prompt: 'x' }), headers: { 'content-type': 'application/json' } })
    expect(response.status).toBe(401)
  })

  it('never answers 5xx to arbitrary JSON bodies (property)', async () => {
    gpuStandIn()
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record(
            {
              prompt: fc.oneof(fc.string(), fc.constant('a cat')),
              n: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.string()),
              size: fc.oneof(fc.constantFrom('64x64', '128x128', '512x512', 'big'), fc.string()),
              negative_prompt: fc.string(),
              seed: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 65n }).map(String), fc.integer(), fc.string()),
              guidance: fc.record({ mode: fc.constantFrom('nasa', 'nag', 'cfg', 'none', 'x'), alpha: fc.double(), scale: fc.double(), tau: fc.double(), projection: fc.oneof(fc.boolean(), fc.string()) }, { requiredKeys: [] }),
              response_format: fc.constantFrom('url', 'b64_json', 'png'),
              output_format: fc.constantFrom('png', 'webp', 'jpeg', 'gif'),
            },
            { requiredKeys: [] },
          ),
        ),
        async (body) => {
          const response = await generate(JSON.stringify(body))
          await response.arrayBuffer()
          return response.status < 500
        },
      ),
      { numRuns: 60 },
    )
  }, 60_000)
})

describe('API description', () => {
  it('serves the OpenAPI document generated from the validating schemas, and the docs page', async () => {
    const doc = await (await exports.default.fetch(`${api}/openapi.json`)).json<{ paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } }>()
    expect(Object.keys(doc.paths)).toContain('/v1/images/generations')
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['ImageGenerationRequest', 'ImageGenerationResponse', 'Error']))
    const docs = await exports.default.fetch(`${api}/docs`)
    expect(docs.status).toBe(200)
    expect(await docs.text()).toContain('/openapi.json')
  })
})
