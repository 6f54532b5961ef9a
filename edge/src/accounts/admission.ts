import { secondsUntil, wholeTokens, type BucketSpec, type BucketState } from './token-bucket.ts'

/** The quota policies a key has, as named in the `RateLimit` / `RateLimit-Policy` headers. */
export type QuotaPolicy = 'requests' | 'images'

/**
 * A Durable Object's answer to "may this go ahead?", with everything the rate-limit headers need.
 * `limit` / `windowSeconds` / `remaining` / `resetSeconds` describe `policy` (the `q`, `w`, `r` and `t`
 * of draft-ietf-httpapi-ratelimit-headers).
 */
export interface Admission {
  allowed: boolean
  /** Which limit said no; absent when allowed. */
  refusedBy?: 'requests' | 'concurrency' | 'images'
  /** Whole seconds until a retry can succeed; 0 when allowed. */
  retryAfterSeconds: number
  policy: QuotaPolicy
  /** Quota units per window (`q`). */
  limit: number
  /** The window in seconds (`w`). */
  windowSeconds: number
  /** Whole units left now (`r`). */
  remaining: number
  /**
   * Seconds until the quota is fully restored (`t`); when nothing remains, until the next unit is,
   * so that it names the same moment as `Retry-After` (as the draft asks).
   */
  resetSeconds: number
  /** The concurrency slot a request admission holds; hand it back with `release(slot)`. */
  slot?: string
  /**
   * A cache hit's admission (`KeyAccount.enterHit`): it holds no slot and its hit is already counted,
   * so nothing is left to settle after the response.
   */
  cacheHit?: true
  /**
   * On a request admission: the images quota as it stands, nothing taken, so that an answer that
   * takes no images (a cache hit, a coalesced answer) still reports it.
   */
  images?: Admission
  /**
   * On an images refusal of an admitted request: the requests quota once that request's token was
   * given back (a refused request spends nothing).
   */
  requests?: Admission
}

/** Builds an admission from a bucket after the decision. */
export function describeBucket(
  bucket: BucketState,
  spec: BucketSpec,
  quota: { policy: QuotaPolicy; limit: number; windowSeconds: number },
): Omit<Admission, 'allowed' | 'retryAfterSeconds'> {
  const remaining = wholeTokens(bucket)
  const resetSeconds = remaining === 0 ? secondsUntil(bucket, spec, 1) : secondsUntil(bucket, spec, spec.capacity)
  return { ...quota, remaining, resetSeconds }
}
