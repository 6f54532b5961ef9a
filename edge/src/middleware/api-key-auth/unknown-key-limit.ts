import type { RateLimiterBinding } from '../../config/edge-config.ts'
import { ApiError } from '../../errors/api-error.ts'

/** The period of the `AUTH_LIMITER` binding in wrangler.toml, seconds (the binding allows 10 or 60). */
export const UNKNOWN_KEY_PERIOD_SECONDS = 60

/** Hashes of keys that authenticated in this isolate lately: at most this many are remembered. */
const MAX_REMEMBERED = 10_000

/**
 * Bounds what well-formed but unknown keys from one client can cost. A malformed key never touches
 * storage, but a well-formed forged one costs a Durable Object lookup; so every lookup of a key this
 * isolate has not seen authenticate spends a token of the client IP's budget (`AUTH_LIMITER`, keyed by
 * `CF-Connecting-IP`, which Cloudflare sets and clients cannot), and an empty budget is a 429 before
 * the lookup. Keys that authenticated here lately skip the budget, so a customer's traffic never
 * spends it; remembering a key decides only whether a token is spent, never whether the key is valid
 * (every request still asks the key's Durable Object, so a revocation holds on the next request).
 */
export class UnknownKeyLimit {
  private readonly known = new Map<string, true>()

  /** Spends a token for a key not seen authenticate; 429 `too_many_unknown_keys` when none is left. */
  async admit(binding: RateLimiterBinding | undefined, keyHash: string, clientIp: string | undefined): Promise<void> {
    if (!binding || this.known.has(keyHash)) return
    const { success } = await binding.limit({ key: `unknown-key:${clientIp ?? 'unknown'}` })
    if (!success) {
      throw new ApiError(429, {
        type: 'rate_limit_error',
        code: 'too_many_unknown_keys',
        message: 'Too many requests with unknown API keys from this address; try again in a minute.',
        headers: { 'retry-after': String(UNKNOWN_KEY_PERIOD_SECONDS) },
      })
    }
  }

  /** Records the outcome of a lookup: a key that authenticated is remembered, one that did not is forgotten. */
  settle(keyHash: string, authenticated: boolean): void {
    this.known.delete(keyHash)
    if (!authenticated) return
    this.known.set(keyHash, true)
    // Maps iterate in insertion order: the first entry is the least recently authenticated.
    if (this.known.size > MAX_REMEMBERED) this.known.delete(this.known.keys().next().value as string)
  }
}
