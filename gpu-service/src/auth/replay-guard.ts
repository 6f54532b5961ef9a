/**
 * The GPU service's memory of the request nonces it has admitted, so that a captured signed request
 * cannot be sent again (see request-signature.ts). A nonce is kept while its signed timestamp is
 * inside the window; once the timestamp is older, the signature check alone refuses the request, so
 * the entry can go. Memory is bounded twice: by the window (entries expire) and by a hard cap,
 * beyond which new requests are refused (503) rather than old nonces forgotten, because forgetting
 * one would reopen it to replay.
 *
 * The memory is per process: each GPU task behind the load balancer has its own (gpu-service/README.md,
 * "How the tiers talk").
 */

export type Admission = 'fresh' | 'replayed' | 'full'

export interface ReplayGuardOptions {
  /** SIGNATURE_WINDOW_S: a nonce is kept until its timestamp is this many seconds old. */
  windowSeconds: number
  /** Most nonces held at once (default 100 000: ~300 signed requests/s for 5 minutes; ~15 MB). */
  maxEntries?: number
}

export const DEFAULT_MAX_NONCES = 100_000

export class ReplayGuard {
  readonly windowSeconds: number
  readonly maxEntries: number
  /** nonce → last second at which its timestamp is still inside the window; insertion (arrival) order. */
  readonly #expiry = new Map<string, number>()
  #lastFullSweep = Number.NEGATIVE_INFINITY

  constructor({ windowSeconds, maxEntries = DEFAULT_MAX_NONCES }: ReplayGuardOptions) {
    if (!(maxEntries >= 1)) throw new Error('ReplayGuard: maxEntries must be at least 1')
    this.windowSeconds = windowSeconds
    this.maxEntries = maxEntries
  }

  get size(): number {
    return this.#expiry.size
  }

  /**
   * Admits `nonce` (signed with `timestamp`, Unix seconds) at `nowSeconds`: `fresh` the first time
   * (now remembered), `replayed` after that, `full` when the cap is reached (nothing remembered).
   * Call it only for requests whose MAC is valid, so that strangers cannot fill it.
   */
  admit(nonce: string, timestamp: number, nowSeconds: number): Admission {
    this.#sweepFront(nowSeconds)
    if (this.#expiry.has(nonce)) return 'replayed'
    if (this.#expiry.size >= this.maxEntries) {
      // Timestamps arrive a little out of order (future skew), so expired entries can hide behind a
      // live one at the front: look at them all before refusing, at most once a second.
      if (nowSeconds > this.#lastFullSweep) this.#sweepAll(nowSeconds)
      if (this.#expiry.size >= this.maxEntries) return 'full'
    }
    this.#expiry.set(nonce, timestamp + this.windowSeconds)
    return 'fresh'
  }

  /** Seconds until the oldest remembered nonce expires (a Retry-After for `full`), at least 1. */
  retryAfterSeconds(nowSeconds: number): number {
    let soonest = Number.POSITIVE_INFINITY
    for (const expiry of this.#expiry.values()) if (expiry < soonest) soonest = expiry
    return Number.isFinite(soonest) ? Math.max(1, soonest - nowSeconds + 1) : 1
  }

  /**
   * Drops expired entries from the front (the oldest arrivals) up to the first live one. Amortised
   * O(1); it bounds the set to the nonces that arrived within the last window + future skew.
   */
  #sweepFront(nowSeconds: number): void {
    for (const [nonce, expiry] of this.#expiry) {
      if (expiry >= nowSeconds) return
      this.#expiry.delete(nonce)
    }
  }

  #sweepAll(nowSeconds: number): void {
    this.#lastFullSweep = nowSeconds
    for (const [nonce, expiry] of this.#expiry) if (expiry < nowSeconds) this.#expiry.delete(nonce)
  }
}
