/**
 * A circuit breaker for calls to the GPU tier: after `failureThreshold` consecutive failures it opens
 * for `openMs`, during which calls fail at once (misses answer 503 fast instead of waiting on a dead
 * upstream); then one probe call is let through (half-open) and its outcome closes or re-opens it.
 * State lives in the isolate: each isolate learns on its own, which bounds the cost of a wrong guess.
 */
export class CircuitBreaker {
  private failures = 0
  private openedAt: number | undefined
  private probing = false
  readonly failureThreshold: number
  readonly openMs: number
  private readonly now: () => number

  constructor({ failureThreshold = 5, openMs = 10_000, now = () => Date.now() }: { failureThreshold?: number; openMs?: number; now?: () => number } = {}) {
    this.failureThreshold = failureThreshold
    this.openMs = openMs
    this.now = now
  }

  /** Milliseconds until a call may be tried, or 0 if one may go now (claims the probe when half-open). */
  blockedForMs(): number {
    if (this.openedAt === undefined) return 0
    const left = this.openedAt + this.openMs - this.now()
    if (left > 0) return left
    if (this.probing) return 1000
    this.probing = true
    return 0
  }

  succeeded(): void {
    this.failures = 0
    this.openedAt = undefined
    this.probing = false
  }

  failed(): void {
    this.failures++
    this.probing = false
    if (this.failures >= this.failureThreshold || this.openedAt !== undefined) this.openedAt = this.now()
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openedAt === undefined) return 'closed'
    return this.openedAt + this.openMs > this.now() ? 'open' : 'half-open'
  }
}
