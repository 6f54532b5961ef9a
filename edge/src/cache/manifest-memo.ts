/** Manifests an isolate keeps per bucket, at most. A manifest is a few hundred bytes. */
export const MANIFEST_MEMO_ENTRIES = 4096

/**
 * Request manifests this isolate has read or written, per bucket, least recently used first out. A
 * manifest is written once its images are stored and then never changes what it points at (the ids
 * come from the request hash, and a forced regeneration of the same request makes the same images),
 * so a hit may skip the R2 read. Absence is never remembered: a manifest can appear at any time.
 */
export class ManifestMemo<Manifest> {
  readonly #entries = new Map<string, Manifest>()
  readonly #capacity: number

  constructor(capacity = MANIFEST_MEMO_ENTRIES) {
    this.#capacity = capacity
  }

  get(hash: string): Manifest | undefined {
    const manifest = this.#entries.get(hash)
    if (manifest) {
      // Re-insert: Map order is insertion order, so the first key is the least recently used.
      this.#entries.delete(hash)
      this.#entries.set(hash, manifest)
    }
    return manifest
  }

  set(hash: string, manifest: Manifest): void {
    this.#entries.delete(hash)
    this.#entries.set(hash, manifest)
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value as string)
  }

  get size(): number {
    return this.#entries.size
  }
}

// The env's bindings are stable for an isolate's lifetime, so the bucket object identifies the store.
const memos = new WeakMap<R2Bucket, ManifestMemo<unknown>>()

/** The isolate's memo of one bucket's manifests. */
export function manifestMemoOf<Manifest>(bucket: R2Bucket): ManifestMemo<Manifest> {
  let memo = memos.get(bucket)
  if (!memo) {
    memo = new ManifestMemo()
    memos.set(bucket, memo)
  }
  return memo as ManifestMemo<Manifest>
}
