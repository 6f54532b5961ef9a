import { z } from 'zod'
import { manifestMemoOf, type ManifestMemo } from './manifest-memo.ts'
import { IMAGE_ID_PATTERN, REQUEST_HASH_PATTERN } from './request-keys.ts'

/** File extensions of stored images (the request's `output_format`). */
export const IMAGE_EXTENSIONS = ['png', 'webp', 'jpeg'] as const
export type ImageExtension = (typeof IMAGE_EXTENSIONS)[number]

/** `Cache-Control` of every image: ids are content-addressed by request, so an image never changes. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable'

const manifestSchema = z.object({
  created: z.number().int(),
  model: z.string(),
  version: z.string(),
  images: z.array(
    z.object({
      id: z.string().regex(IMAGE_ID_PATTERN),
      ext: z.enum(IMAGE_EXTENSIONS),
      seed: z.string(),
      content_type: z.string(),
      bytes: z.number().int().nonnegative(),
      /** Prompt tokens the text encoder could not read (absent in manifests written before it was kept). */
      dropped_tokens: z.number().int().nonnegative().optional(),
    }),
  ),
})

/** `requests/<hash>.json`: what a request produced. Exists only once every image it lists is stored. */
export type GenerationManifest = z.infer<typeof manifestSchema>
export type ManifestImage = GenerationManifest['images'][number]

/** One generated image to store. */
export interface ImageToStore {
  id: string
  ext: ImageExtension
  bytes: Uint8Array
  contentType: string
  /** Decimal string or bigint (0 … 2^64 − 1). */
  seed: string | bigint
  droppedTokens?: number
}

/** The R2 key of an image. */
export function imageKey(id: string, ext: ImageExtension): string {
  return `images/${id}.${ext}`
}

/** The R2 key of a request's manifest. */
export function manifestKey(hash: string): string {
  return `requests/${hash}.json`
}

/**
 * Generated images and per-request manifests in R2 (the `IMAGES` binding):
 * - `images/<id>.<ext>`: the image, with its content type, an immutable Cache-Control, and custom
 *   metadata `{ model, version, seed, created, request }` (`request` is the request hash);
 * - `requests/<hash>.json`: `{ created, model, version, images: [{ id, ext, seed, content_type, bytes, dropped_tokens? }] }`.
 *
 * @example
 * const store = new ImageStore(c.env.IMAGES)
 * const hit = await store.getManifest(hash)
 */
export class ImageStore {
  readonly #bucket: R2Bucket
  readonly #memo: ManifestMemo<GenerationManifest>

  constructor(bucket: R2Bucket) {
    this.#bucket = bucket
    this.#memo = manifestMemoOf<GenerationManifest>(bucket)
  }

  /**
   * The manifest of a request, or null when it was never stored (or is unreadable: treated as a miss).
   * A manifest this isolate has seen is answered from memory (see `ManifestMemo`).
   */
  async getManifest(hash: string): Promise<GenerationManifest | null> {
    checkHash(hash)
    const known = this.#memo.get(hash)
    if (known) return known
    const object = await this.#bucket.get(manifestKey(hash))
    if (!object) return null
    const parsed = manifestSchema.safeParse(await object.json<unknown>().catch(() => undefined))
    if (!parsed.success) {
      console.warn(`image store: unreadable manifest ${manifestKey(hash)}, treated as missing`)
      return null
    }
    this.#memo.set(hash, parsed.data)
    return parsed.data
  }

  /**
   * Stores a request's images, then its manifest, and resolves once both are durable. Images first and
   * the manifest last: a manifest that exists always points at stored images. If any image write
   * fails, this rejects (after the other writes settle) and no manifest is written; the images that
   * did land are harmless and are overwritten by the retry (ids are deterministic).
   */
  async putGeneration(hash: string, manifest: Omit<GenerationManifest, 'images'>, images: readonly ImageToStore[]): Promise<GenerationManifest> {
    checkHash(hash)
    const entries: ManifestImage[] = images.map((image) => {
      checkImage(image.id, image.ext)
      const entry: ManifestImage = { id: image.id, ext: image.ext, seed: image.seed.toString(), content_type: image.contentType, bytes: image.bytes.byteLength }
      if (image.droppedTokens !== undefined) entry.dropped_tokens = image.droppedTokens
      return entry
    })
    const writes = await Promise.allSettled(
      images.map((image) =>
        this.#bucket.put(imageKey(image.id, image.ext), image.bytes, {
          httpMetadata: { contentType: image.contentType, cacheControl: IMMUTABLE_CACHE_CONTROL },
          customMetadata: {
            model: manifest.model,
            version: manifest.version,
            seed: image.seed.toString(),
            created: String(manifest.created),
            request: hash,
          },
        }),
      ),
    )
    const failed = writes.find((write) => write.status === 'rejected')
    if (failed) throw new Error(`image store: image write failed for request ${hash}`, { cause: failed.reason })

    const complete: GenerationManifest = { created: manifest.created, model: manifest.model, version: manifest.version, images: entries }
    await this.#bucket.put(manifestKey(hash), JSON.stringify(complete), { httpMetadata: { contentType: 'application/json' } })
    this.#memo.set(hash, complete)
    return complete
  }

  /** An image with its body, or null. */
  async getImage(id: string, ext: ImageExtension): Promise<R2ObjectBody | null> {
    checkImage(id, ext)
    return await this.#bucket.get(imageKey(id, ext))
  }

  /** An image's metadata without its body (for HEAD), or null. */
  async headImage(id: string, ext: ImageExtension): Promise<R2Object | null> {
    checkImage(id, ext)
    return await this.#bucket.head(imageKey(id, ext))
  }

  /** Whether every image a manifest lists is still stored (e.g. after a lifecycle rule deleted some). */
  async hasAll(manifest: GenerationManifest): Promise<boolean> {
    const heads = await Promise.all(manifest.images.map((image) => this.#bucket.head(imageKey(image.id, image.ext))))
    return heads.every((head) => head !== null)
  }
}

// Keys are built from these values: checked here too, so no caller can address other objects.
function checkHash(hash: string): void {
  if (!REQUEST_HASH_PATTERN.test(hash)) throw new Error('image store: a request hash is 64 lowercase hex characters')
}

function checkImage(id: string, ext: string): void {
  if (!IMAGE_ID_PATTERN.test(id) || !(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new Error('image store: an image id is 32 lowercase hex characters with a png, webp or jpeg extension')
  }
}
