// What each step of a cache hit costs, one step at a time in workerd (`npm run bench:edge:steps`).
// Not a test (never in `npm test`): it prints a table. Each step runs alone, sequentially, many times;
// the figure is its wall time per call on this machine (one request at a time, so no queueing).
import { env, exports } from 'cloudflare:workers'
import { afterAll, it, vi } from 'vitest'
import { accountStub } from '../accounts/account-stub.ts'
import { ImageStore, manifestKey } from '../cache/image-store.ts'
import { imageId, requestHash } from '../cache/request-keys.ts'
import { edgeConfig, type EdgeBindings } from '../config/edge-config.ts'
import { imageData } from '../generation/generation-path.ts'
import { keyHash, parseApiKey } from '../keys/api-key.ts'
import { issueKey } from '../keys/key-registry.ts'
import { parseGeneration } from '../routes/generations.ts'
import { gpuStandIn } from '../testing/gpu-stand-in.ts'

const bindings: EdgeBindings = env
const api = 'https://api.test'
const rows: { step: string; us: number }[] = []

/** Microseconds per call of `fn`, over `n` sequential calls after a warm-up. */
async function per(step: string, n: number, fn: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(i)
  const start = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  rows.push({ step, us: ((performance.now() - start) * 1000) / n })
}

afterAll(() => {
  console.log(`\n| step of a hit | µs per call |\n| --- | ---: |\n${rows.map((r) => `| ${r.step} | ${r.us.toFixed(0)} |`).join('\n')}\n`)
})

it('profiles a cache hit step by step', async () => {
  const config = edgeConfig(bindings)
  if (!config.ok) throw new Error('bad config')
  const { key } = await issueKey(bindings, { owner: 'profile', plan: 'enterprise', scopes: ['images:generate', 'usage:read'] })
  const body = JSON.stringify({ prompt: 'a red circle and a blue square', size: '64x64' })
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  gpuStandIn()
  const generate = () => exports.default.fetch(`${api}/v1/images/generations`, { method: 'POST', headers, body })
  const first = await generate()
  if (first.headers.get('x-cache') !== 'MISS') throw new Error(`warm-up: ${first.status}`)
  vi.restoreAllMocks()

  // Whole requests through the worker (as the bench's routes).
  await per('whole request: GET /healthz (the static route)', 400, async () => (await exports.default.fetch(`${api}/healthz`)).arrayBuffer())
  await per('whole request: GET /v1/usage (one read-only Durable Object call)', 300, async () => (await exports.default.fetch(`${api}/v1/usage`, { headers: { authorization: headers.authorization } })).arrayBuffer())
  await per('whole request: cache hit (POST /v1/images/generations)', 300, async () => {
    const response = await generate()
    if (response.headers.get('x-cache') !== 'HIT') throw new Error(`not a hit: ${response.status}`)
    return response.arrayBuffer()
  })

  // The steps of a hit, in order.
  await per('body: read + JSON.parse + schema + canonical request', 2000, async () => {
    const raw = await new Request(api, { method: 'POST', body }).json()
    return parseGeneration(raw, config.config)
  })
  await per('key: checksum (SHA-256) + key hash (SHA-256)', 2000, async () => {
    const parsed = await parseApiKey(key)
    if (parsed.ok) await keyHash(parsed.key)
  })
  const hash = await keyHash(key)
  const stub = accountStub(bindings, hash)
  const slots: string[] = []
  await per('Durable Object: enter (authenticate, scope, admission: 4 storage puts)', 400, async () => {
    const entered = await stub.enter('images:generate')
    if (entered?.admission?.slot) slots.push(entered.admission.slot)
  })
  await per('Durable Object: settle (slot release + usage count: 3 puts)', 400, (i) => stub.settle(slots[i] ?? undefined, { cacheHits: 1 }))
  await per('Durable Object: authenticate (read only)', 400, () => stub.authenticate())
  await per('Durable Object: enterHit (authenticate, scope, admission without a slot, hit counted: 3 puts)', 400, () =>
    stub.enterHit('images:generate', { keyId: '', cacheScope: 'shared' }),
  )
  const { canonical } = parseGeneration(JSON.parse(body), config.config)
  const secret = config.config.CACHE_KEY_SECRET
  await per('cache key: request hash (HMAC-SHA256 of the canonical JSON)', 2000, () => requestHash(secret, canonical))
  const requestKey = await requestHash(secret, canonical)
  await per('cache key: one image id (HMAC-SHA256)', 2000, () => imageId(secret, requestKey, 0))
  const store = new ImageStore(bindings.IMAGES)
  await per('manifest: in-memory memo', 2000, () => store.getManifest(requestKey))
  await per('manifest: R2 read + JSON + schema (no memo)', 300, async () => (await bindings.IMAGES.get(manifestKey(requestKey)))?.json())
  const manifest = await store.getManifest(requestKey)
  if (!manifest) throw new Error('no manifest')
  await per('answer: image data + JSON body', 2000, async () =>
    JSON.stringify({ created: 0, data: await imageData(bindings.IMAGES, manifest, { responseFormat: 'url', revisedPrompt: canonical.prompt, baseUrl: api }) }),
  )
})
