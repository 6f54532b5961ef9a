import type { KeyCacheScope } from '../accounts/account-record.ts'
import type { CanonicalRequest } from '../cache/canonical-request.ts'
import { ImageStore, type GenerationManifest } from '../cache/image-store.ts'
import { imageId, requestHash } from '../cache/request-keys.ts'
import { imageSeeds } from '../cache/request-seed.ts'
import type { EdgeBindings, EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { generateBodyFor } from '../upstream/generated-images.ts'
import type { GenerationJob, GenerationOutcome } from './generation-coordinator.ts'

/**
 * The one generation path of the edge, shared by the synchronous route (`POST /v1/images/generations`)
 * and the jobs queue's consumer: the cache keys (with a private key's own scope), the manifest lookup,
 * the coordinator (one GPU call for identical work, whichever path asked), the `x-cache` answer and
 * the public image data (URLs on `PUBLIC_BASE_URL` or the reading request's origin, or base64).
 */

/** Everything about a generation but who asked for it: what the coordinator of `hash` runs. */
export type GenerationWork = Omit<GenerationJob, 'requestId' | 'payer'>

/** Who pays a generation the coordinator leads: a key charged on the spot, or a job that paid at enqueue. */
export type GenerationPayer = GenerationJob['payer']

/**
 * The request's cache key in a key's cache scope. A `private` key's requests are cached in its own
 * namespace (no cross-key hits either way).
 */
export function cacheKey(secret: string, canonical: CanonicalRequest, scope: KeyCacheScope): Promise<string> {
  return scope.cacheScope === 'private' ? requestHash(secret, canonical, scope.keyId) : requestHash(secret, canonical)
}

/**
 * The request's cache key (`hash`: computed here unless the caller has it already) and the hash its
 * seeds come from: a private key's seeds stay the canonical request's, so it gets the very images a
 * shared one would, stored apart.
 */
async function cacheKeys(secret: string, canonical: CanonicalRequest, scope: KeyCacheScope, known?: string): Promise<{ hash: string; seedHash: string }> {
  const hash = known ?? (await cacheKey(secret, canonical, scope))
  const seedHash = scope.cacheScope === 'private' ? await requestHash(secret, canonical) : hash
  return { hash, seedHash }
}

/**
 * The generation a canonical request asks for, in the cache scope of the key that sends it. `hash`:
 * its cache key in that scope, when the caller computed it already (`cacheKey`).
 */
export async function prepareGeneration(config: EdgeConfig, canonical: CanonicalRequest, scope: KeyCacheScope, force: boolean, hash?: string): Promise<GenerationWork> {
  const keys = await cacheKeys(config.CACHE_KEY_SECRET, canonical, scope, hash)
  const seeds = imageSeeds(canonical, keys.seedHash)
  return {
    hash: keys.hash,
    upstream: generateBodyFor(canonical, seeds[0] as bigint, config.GPU_TIMEOUT_MS),
    model: canonical.model,
    version: canonical.version,
    imageIds: await Promise.all(seeds.map((_, i) => imageId(config.CACHE_KEY_SECRET, keys.hash, i))),
    ext: canonical.output_format,
    force,
  }
}

/**
 * The stored answer under a cache key, or null (always null when the client forces a new generation).
 * Takes the work, or just its key and `force` when the work is made only on a miss.
 */
export function cachedManifest(bucket: R2Bucket, work: Pick<GenerationWork, 'hash' | 'force'>): Promise<GenerationManifest | null> {
  return work.force ? Promise.resolve(null) : new ImageStore(bucket).getManifest(work.hash)
}

type Coordinator = { generate(job: GenerationJob): Promise<GenerationOutcome> }

/** Runs `work` through its request hash's coordinator (which coalesces identical work and stores the images). */
export function runGeneration(env: EdgeBindings, work: GenerationWork, requestId: string, payer: GenerationPayer): Promise<GenerationOutcome> {
  const coordinator = env.GENERATIONS.get(env.GENERATIONS.idFromName(work.hash)) as unknown as Coordinator
  return coordinator.generate({ ...work, requestId, payer })
}

/**
 * The `x-cache` of a generation answer. `HIT`: stored images (found here, or by the coordinator when
 * an identical request had just finished); `COALESCED`: the images an identical request in flight was
 * generating when this one arrived; `MISS`: generated for this request. Only a `MISS` is charged
 * images and counts them in the usage.
 */
export type CacheAnswer = 'HIT' | 'COALESCED' | 'MISS'

export function cacheAnswer(outcome: { generated: boolean; coalesced: boolean } | null): CacheAnswer {
  if (!outcome) return 'HIT'
  return outcome.generated ? 'MISS' : outcome.coalesced ? 'COALESCED' : 'HIT'
}

/** A failed outcome as the error the client gets (its status, code and headers such as Retry-After). */
export function outcomeError(outcome: Extract<GenerationOutcome, { ok: false }>): ApiError {
  return new ApiError(outcome.status as 500, { type: outcome.type, code: outcome.code, message: outcome.message, headers: outcome.headers })
}

/** Where public URLs point: `PUBLIC_BASE_URL` when set, else the origin of the request that reads them. */
export function publicBase(config: Pick<EdgeConfig, 'PUBLIC_BASE_URL'>, readerOrigin: string): string {
  return config.PUBLIC_BASE_URL ?? readerOrigin
}

/** One image of an answer, exactly as the synchronous route returns it. */
export interface ImageData {
  url?: string
  b64_json?: string
  seed: string
  revised_prompt: string
  dropped_tokens?: number
}

function base64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

/** The `data` of an answer: per image its URL under `baseUrl` (or its bytes in base64), seed and revised prompt. */
export async function imageData(
  bucket: R2Bucket,
  manifest: GenerationManifest,
  options: { responseFormat: 'url' | 'b64_json'; revisedPrompt: string; baseUrl: string },
): Promise<ImageData[]> {
  const store = new ImageStore(bucket)
  return Promise.all(
    manifest.images.map(async (image) => {
      const entry: ImageData = { seed: image.seed, revised_prompt: options.revisedPrompt }
      if (image.dropped_tokens !== undefined) entry.dropped_tokens = image.dropped_tokens
      if (options.responseFormat === 'b64_json') {
        const object = await store.getImage(image.id, image.ext)
        if (!object) throw new ApiError(500, { code: 'internal_error', message: 'internal error', internal: `image ${image.id} missing from R2` })
        entry.b64_json = base64(new Uint8Array(await object.arrayBuffer()))
      } else {
        entry.url = `${options.baseUrl}/v1/images/${image.id}.${image.ext}`
      }
      return entry
    }),
  )
}
