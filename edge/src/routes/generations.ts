import { createRoute } from '@hono/zod-openapi'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { errorSchema, generationRequestSchema, generationResponseSchema, type GenerationRequest } from '../api/generation-schema.ts'
import type { EdgeEnv } from '../edge-env.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import { canonicalRequest, type CanonicalRequest } from '../cache/canonical-request.ts'
import { ImageStore, type GenerationManifest } from '../cache/image-store.ts'
import { forcesRegeneration } from '../cache/forced-regeneration.ts'
import { imageId, requestHash } from '../cache/request-keys.ts'
import { imageSeeds } from '../cache/request-seed.ts'
import { ApiError } from '../errors/api-error.ts'
import type { GenerationJob, GenerationOutcome } from '../generation/generation-coordinator.ts'
import type { Account } from '../middleware/api-key-auth/index.ts'
import { reportImages } from '../middleware/rate-limit/index.ts'
import { generateBodyFor } from '../upstream/generated-images.ts'

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
  const parsed = generationRequestSchema.safeParse(raw)
  validationHook(parsed)
  const body = parsed.data as GenerationRequest
  const models = c.get('config').MODELS
  const model = body.model === undefined ? models[0] : models.find((m) => m.id === body.model)
  if (!model) throw new ApiError(404, { code: 'model_not_found', message: `the model "${body.model}" does not exist; see /v1/models` })
  c.set('generation', body)
  c.set('canonical', canonicalRequest(body, model))
  await next()
}

function base64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

async function responseData(c: Context<EdgeEnv>, body: GenerationRequest, canonical: CanonicalRequest, manifest: GenerationManifest) {
  const origin = new URL(c.req.url).origin
  const store = new ImageStore(c.env.IMAGES)
  return Promise.all(
    manifest.images.map(async (image) => {
      const entry: { url?: string; b64_json?: string; seed: string; revised_prompt: string; dropped_tokens?: number } = { seed: image.seed, revised_prompt: canonical.prompt }
      if (image.dropped_tokens !== undefined) entry.dropped_tokens = image.dropped_tokens
      if (body.response_format === 'b64_json') {
        const object = await store.getImage(image.id, image.ext)
        if (!object) throw new ApiError(500, { code: 'internal_error', message: 'internal error', internal: `image ${image.id} missing from R2` })
        entry.b64_json = base64(new Uint8Array(await object.arrayBuffer()))
      } else {
        entry.url = `${origin}/v1/images/${image.id}.${image.ext}`
      }
      return entry
    }),
  )
}

/**
 * The `x-cache` of a generation answer. `HIT`: stored images (found here, or by the coordinator when
 * an identical request had just finished); `COALESCED`: the images an identical request in flight was
 * generating when this one arrived; `MISS`: generated for this request. Only a `MISS` is charged
 * images and counts them in the usage.
 */
export type CacheAnswer = 'HIT' | 'COALESCED' | 'MISS'

function cacheAnswer(outcome: { generated: boolean; coalesced: boolean }): CacheAnswer {
  return outcome.generated ? 'MISS' : outcome.coalesced ? 'COALESCED' : 'HIT'
}

/**
 * The request's cache key and the hash its seeds come from. A `private` key's requests are cached
 * in its own namespace (no cross-key hits either way); their seeds stay the canonical request's, so
 * a private key gets the very images a shared one would, stored apart.
 */
async function cacheKeys(secret: string, canonical: CanonicalRequest, account: Account): Promise<{ hash: string; seedHash: string }> {
  const seedHash = await requestHash(secret, canonical)
  const hash = account.cacheScope === 'private' ? await requestHash(secret, canonical, account.keyId) : seedHash
  return { hash, seedHash }
}

function coordinatorOf(env: EdgeBindings, hash: string): { generate(job: GenerationJob): Promise<GenerationOutcome> } {
  return env.GENERATIONS.get(env.GENERATIONS.idFromName(hash)) as unknown as { generate(job: GenerationJob): Promise<GenerationOutcome> }
}

async function generationJob(c: Context<EdgeEnv>, hash: string, seedHash: string, force: boolean): Promise<GenerationJob> {
  const config = c.get('config')
  const canonical = c.get('canonical')
  const seeds = imageSeeds(canonical, seedHash)
  const slot = c.get('admission')?.slot
  return {
    hash,
    upstream: generateBodyFor(canonical, seeds[0] as bigint, config.GPU_TIMEOUT_MS),
    model: canonical.model,
    version: canonical.version,
    imageIds: await Promise.all(seeds.map((_, i) => imageId(config.CACHE_KEY_SECRET, hash, i))),
    ext: canonical.output_format,
    force,
    requestId: c.get('requestId'),
    payer: { account: c.get('account').stub.id.toString(), ...(slot === undefined ? {} : { slot }) },
  }
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
 */
export const generationRoutes = new Hono<EdgeEnv>().post('/v1/images/generations', async (c) => {
  const body = c.get('generation')
  const config = c.get('config')
  const canonical = c.get('canonical')
  const account = c.get('account')
  const { hash, seedHash } = await cacheKeys(config.CACHE_KEY_SECRET, canonical, account)
  const force = forcesRegeneration(c.req.raw.headers)
  const store = new ImageStore(c.env.IMAGES)

  const stored = force ? null : await store.getManifest(hash)
  const outcome = stored ? null : await coordinatorOf(c.env, hash).generate(await generationJob(c, hash, seedHash, force))
  // The payer's quota after its charge (a refused one throws the 429 here), else the admission's view.
  const images = outcome?.images ?? c.get('admission')?.images
  if (images) reportImages(c, images, canonical.n)
  if (outcome && !outcome.ok) throw new ApiError(outcome.status as 500, { type: outcome.type, code: outcome.code, message: outcome.message, headers: outcome.headers })
  const manifest = outcome ? outcome.manifest : (stored as GenerationManifest)
  const answer: CacheAnswer = outcome ? cacheAnswer(outcome) : 'HIT'
  const miss = answer === 'MISS'
  // Counted after the response, with the slot's release, by rateLimit().
  c.set('usage', { images: miss ? canonical.n : 0, cacheHits: miss ? 0 : 1, cacheMisses: miss ? 1 : 0 })
  c.header('x-cache', answer)
  return c.json({ created: Math.floor(Date.now() / 1000), data: await responseData(c, body, canonical, manifest) }, 200)
})
