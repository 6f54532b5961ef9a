import type { KeyCacheScope } from '../../accounts/account-record.ts'

/** Keys whose cache scope an isolate remembers, at most (least recently authenticated out first). */
export const MAX_SCOPE_HINTS = 10_000

/**
 * The cache scope each key (by hash) had when it last authenticated in this isolate. Only a hint, for
 * looking a generation up in the cache before the key's Durable Object is asked: the object confirms
 * it on every use (`KeyAccount.enterHit`), so a wrong or stale hint costs a lookup and nothing else. A
 * key that has not authenticated here has none, so unknown keys never make a lookup; one that fails to
 * authenticate loses its hint.
 */
export class CacheScopeHints {
  readonly #hints = new Map<string, KeyCacheScope>()
  readonly #capacity: number

  constructor(capacity = MAX_SCOPE_HINTS) {
    this.#capacity = capacity
  }

  get(keyHash: string): KeyCacheScope | undefined {
    return this.#hints.get(keyHash)
  }

  learn(keyHash: string, scope: KeyCacheScope): void {
    this.#hints.delete(keyHash)
    this.#hints.set(keyHash, scope)
    if (this.#hints.size > this.#capacity) this.#hints.delete(this.#hints.keys().next().value as string)
  }

  forget(keyHash: string): void {
    this.#hints.delete(keyHash)
  }

  get size(): number {
    return this.#hints.size
  }
}

/** One per isolate, shared by every route (a key seen on `/v1/usage` has a hint on generations too). */
export const cacheScopeHints = new CacheScopeHints()
