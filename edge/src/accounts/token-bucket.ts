/** A token bucket's shape: `capacity` tokens at most, refilled continuously at `refillPerSecond`. */
export interface BucketSpec {
  capacity: number
  refillPerSecond: number
}

/** A bucket's persisted state: the tokens it held at `updatedAt` (epoch milliseconds). */
export interface BucketState {
  tokens: number
  updatedAt: number
}

export function fullBucket(spec: BucketSpec, now: number): BucketState {
  return { tokens: spec.capacity, updatedAt: now }
}

/**
 * The bucket at `now`: exact refill from the elapsed time (no fixed windows, so no double burst at a
 * window edge). A clock that went backwards refills nothing; a shrunken capacity (plan change) caps it.
 */
export function refill(state: BucketState, spec: BucketSpec, now: number): BucketState {
  const elapsedSeconds = Math.max(0, now - state.updatedAt) / 1000
  return { tokens: Math.min(spec.capacity, state.tokens + elapsedSeconds * spec.refillPerSecond), updatedAt: Math.max(now, state.updatedAt) }
}

// Token counts are sums of products of elapsed milliseconds and rates: allow for float rounding, so
// that e.g. 6 s at 10/min counts as exactly one token.
const EPSILON = 1e-9

/** Takes `n` tokens if the (already refilled) bucket holds them; otherwise leaves it as it is. */
export function take(state: BucketState, n: number): { taken: boolean; state: BucketState } {
  return state.tokens + EPSILON >= n ? { taken: true, state: { ...state, tokens: Math.max(0, state.tokens - n) } } : { taken: false, state }
}

/** Whole tokens in the bucket: what `take` would grant at most. */
export function wholeTokens(state: BucketState): number {
  return Math.floor(state.tokens + EPSILON)
}

/** Whole seconds (rounded up) until the bucket holds `tokens`; 0 when it already does. Infinity if it never will. */
export function secondsUntil(state: BucketState, spec: BucketSpec, tokens: number): number {
  if (tokens > spec.capacity) return Number.POSITIVE_INFINITY
  const missing = tokens - state.tokens
  return missing <= EPSILON ? 0 : Math.ceil(missing / spec.refillPerSecond - EPSILON)
}
