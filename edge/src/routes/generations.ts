import { createRoute } from '@hono/zod-openapi'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { sameCacheNamespace, type KeyCacheScope } from '../accounts/account-record.ts'
import { errorSchema, generationRequestSchema, generationResponseSchema, type GenerationRequest } from '../api/generation-schema.ts'
import type { EdgeEnv } from '../edge-env.ts'
import { canonicalRequest, type CanonicalRequest } from '../cache/canonical-request.ts'
import { ImageStore, type GenerationManifest } from '../cache/image-store.ts'
import { forcesRegeneration } from '../cache/forced-regeneration.ts'
import type { EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { cacheAnswer, cachedManifest, cacheKey, imageData, outcomeError, prepareGeneration, publicBase, runGeneration, type CacheAnswer } from '../generation/generation-path.ts'
import { reportImages } from '../middleware/rate-limit/index.ts'

/** The route's OpenAPI description (app.ts registers it; the body is validated once, by `validateGeneration`). */
export const generationRoute = createRoute({
  method: 'post',
  path: '/v1/images/generations',
  summary: 'Generate images (OpenAI Images API compatible), with negative prompts by NASA',
  security: [{ bearerAuth: [] }],
  request: { body: { content: { 'application/json': { schema: generationRequestSchema } }, required: true } },
  responses: {
    200: {
      description: 'The images. Headers: x-cache HIT|COALESCED|MISS (only MISS is charged images), RateLimit, RateLimit-Policy (requests and images), x-request-id.',
      content: { 'application/json': { schema: generationResponseSchema } },
    },
    400: { description: 'Invalid request', content: { 'application/json': { schema: errorSchema } } },
    401: { description: 'Missing, malformed, unknown or revoked API key', content: { 'application/json': { schema: errorSchema } } },
    404: { description: 'Unknown model', content: { 'application/json': { schema: errorSchema } } },
    413: { description: 'Body too large', content: { 'application/json': { schema: errorSchema } } },
    429: { description: 'Rate limit, concurrency limit or image quota exceeded (Retry-After)', content: { 'application/json': { schema: errorSchema } } },
    502: { description: 'The image service failed', content: { 'application/json': { schema: errorSchema } } },
    503: { description: 'The image service is unavailable (Retry-After)', content: { 'application/json': { schema: errorSchema } } },
    504: { description: 'The image service did not answer in time', content: { 'application/json': { schema: errorSchema } } },
  },
})

/** Turns a zod-openapi validation failure into the OpenAI error shape (400). */
export function validationHook(result: { success: boolean; error?: unknown }): void {
  if (!result.success) {
    const issues = (result.error as { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? []
    const message = issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('; ')
    throw new ApiError(400, { code: 'invalid_request', message: message || 'invalid request' })
  }
}

/**
 * Validates the body, resolves the model and builds the canonical request before any storage or
 * upstream work (so bad input is a 400 that costs nothing); mounted ahead of authentication.
 */
export const validateGeneration: MiddlewareHandler<EdgeEnv> = async function validateGeneration(c, next) {
  let raw: unknown
  try {
    raw = await c.req.json()
  } catch {
    throw new ApiError(400, { code: 'invalid_json', message: 'the body is not valid JSON' })
  }
  const { body, canonical } = parseGeneration(raw, c.get('config'))
  c.set('generation', body)
  c.set('canonical', canonical)
  await next()
}

/**
 * A generation request's body checked against the schema, its model resolved and its canonical form
 * built (400 / 404 otherwise): the one validation of both `POST /v1/images/generations` and `POST /v1/jobs`.
 */
export function parseGeneration(raw: unknown, config: EdgeConfig): { body: GenerationRequest; canonical: CanonicalRequest } {
  const parsed = generationRequestSchema.safeParse(raw)
  validationHook(parsed)
  const body = parsed.data as GenerationRequest
  const models = config.MODELS
  const model = body.model === undefined ? models[0] : models.find((m) => m.id === body.model)
  if (!model) throw new ApiError(404, { code: 'model_not_found', message: `the model "${body.model}" does not exist; see /v1/models` })
  return { body, canonical: canonicalRequest(body, model) }
}

/** What `lookUpHit` found before admission: the cache key in the scope it looked under, and the stored answer or null. */
export interface HitLookup {
  scope: KeyCacheScope
  hash: string
  manifest: GenerationManifest | null
}

/**
 * `apiKeyAuth({ lookUpHit })` of the generation route: looks the request up in the cache (the
 * isolate's manifest memo, then R2) under `scope`, the key's cache scope as this isolate last saw it,
 * before the key's Durable Object is called. True when a stored answer exists there: the one Durable
 * Object call is then `enterHit`, which confirms the scope (or admits the request as a miss when it is
 * not the key's), checks the key and its limits, and counts the hit. Manifests never change once
 * written, so what is found here is what a lookup after admission would find. Only for answers that
 * need nothing after that call: URLs (base64 answers read the images from R2 while they are in
 * flight, so they keep a concurrency slot), no `Idempotency-Key` (its record may answer instead of
 * the route), and no forced regeneration.
 */
export async function lookUpHit(c: Context<EdgeEnv>, scope: KeyCacheScope): Promise<boolean> {
  if (c.get('generation').response_format !== 'url' || c.req.header('idempotency-key') !== undefined || forcesRegeneration(c.req.raw.headers)) return false
  const hash = await cacheKey(c.get('config').CACHE_KEY_SECRET, c.get('canonical'), scope)
  const manifest = await new ImageStore(c.env.IMAGES).getManifest(hash)
  c.set('hitLookup', { scope, hash, manifest })
  return manifest !== null
}

/**
 * `POST /v1/images/generations`. The body was validated (and the model and size checked) before any
 * storage was touched; then the key was authenticated and rate-limited. A request whose canonical
 * form was seen before (in the key's cache scope) is answered from R2 (`x-cache: HIT`) without
 * reaching the GPU tier; `Cache-Control: no-cache` or `max-age=0`, or `Pragma: no-cache`, forces a new
 * generation. A miss goes through the request hash's coordinator, which makes one upstream call for
 * all identical concurrent misses, charges only the request that leads it, and stores the images in
 * R2 before anyone is answered. Every answer reports the images quota; `created` is the answer's time
 * (never the stored generation's, which would tell when someone first asked).
 *
 * A hit that `lookUpHit` found before admission was admitted and counted by the key's one Durable
 * Object call (`admission.cacheHit`): nothing is settled after its response.
 */
export const generationRoutes = new Hono<EdgeEnv>().post('/v1/images/generations', async (c) => {
  const body = c.get('generation')
  const config = c.get('config')
  const canonical = c.get('canonical')
  const account = c.get('account')
  const admission = c.get('admission')
  const force = forcesRegeneration(c.req.raw.headers)
  // A lookup made before admission in this key's own namespace stands (absence too: the coordinator looks again).
  const lookup = c.get('hitLookup')
  const looked = lookup && sameCacheNamespace(lookup.scope, account) ? lookup : undefined
  const hash = looked?.hash ?? (await cacheKey(config.CACHE_KEY_SECRET, canonical, account))
  const stored = looked ? looked.manifest : await cachedManifest(c.env.IMAGES, { hash, force })
  const slot = admission?.slot
  const payer = { account: account.stub.id.toString(), ...(slot === undefined ? {} : { slot }) }
  const outcome = stored ? null : await runGeneration(c.env, await prepareGeneration(config, canonical, account, force, hash), c.get('requestId'), payer)
  // The payer's quota after its charge (a refused one throws the 429 here), else the admission's view.
  const images = outcome?.images ?? admission?.images
  if (images) reportImages(c, images, canonical.n)
  if (outcome && !outcome.ok) throw outcomeError(outcome)
  const manifest = outcome ? outcome.manifest : (stored as GenerationManifest)
  const answer: CacheAnswer = cacheAnswer(outcome)
  const miss = answer === 'MISS'
  // Counted after the response, with the slot's release, by rateLimit(); a hit admitted as one is counted already.
  if (!admission?.cacheHit) c.set('usage', { images: miss ? canonical.n : 0, cacheHits: miss ? 0 : 1, cacheMisses: miss ? 1 : 0 })
  c.header('x-cache', answer)
  const baseUrl = publicBase(config, new URL(c.req.url).origin)
  return c.json({ created: Math.floor(Date.now() / 1000), data: await imageData(c.env.IMAGES, manifest, { responseFormat: body.response_format, revisedPrompt: canonical.prompt, baseUrl }) }, 200)
})
