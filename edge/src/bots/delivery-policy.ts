/**
 * The retry rules every platform's delivery follows, as pure functions (the platform clients feed
 * them what the platform answered; the queue consumer acts on the verdict):
 *
 * | answer | verdict |
 * | --- | --- |
 * | 2xx (and, for Slack's and Telegram's JSON APIs, `ok: true`) | delivered |
 * | 429 | retry after `Retry-After` (header, or the body's `retry_after`), at least 1 s |
 * | 5xx, a network error, a timeout | retry with exponential backoff (1, 2, 4 … s, at most 5 min, jittered) |
 * | the target is gone (Discord's token past 15 min, 401/404; Slack's `response_url` past 30 min or 5 uses, 404) | fallback (the bot token's channel message), else dead-letter |
 * | any other 4xx | failed: the message will never be accepted, so it is dead-lettered at once |
 */
export type DeliveryVerdict =
  | { kind: 'delivered' }
  | { kind: 'retry'; delaySeconds: number; reason: string }
  | { kind: 'gone'; reason: string }
  | { kind: 'failed'; reason: string }

/** The longest a single retry waits (seconds): a longer `Retry-After` is honoured by waiting this, then asking again. */
export const MAX_RETRY_DELAY_SECONDS = 300

/**
 * Seconds a `Retry-After` value asks for: delta-seconds (Discord sends fractions) or an HTTP date.
 * Null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | null {
  if (value === null || value === undefined || value.trim() === '') return null
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const date = Date.parse(text)
  return Number.isNaN(date) ? null : Math.max(0, (date - nowMs) / 1000)
}

/** Exponential backoff for attempt 1, 2, 3 …: 1, 2, 4 … seconds, capped, with up to 25 % jitter (`random` ∈ [0, 1)). */
export function backoffSeconds(attempt: number, random: number = Math.random()): number {
  const base = Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** Math.max(0, attempt - 1))
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.ceil(base * (1 + 0.25 * random)))
}

/** Whole seconds to wait for a 429 (rounded up, at least 1, at most the cap). */
export function rateLimitDelay(retryAfterSeconds: number | null, attempt: number): number {
  if (retryAfterSeconds === null) return backoffSeconds(attempt)
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.max(1, Math.ceil(retryAfterSeconds)))
}

/**
 * The verdict on one HTTP answer. `goneStatuses`: the statuses that mean the target itself is gone
 * (Discord's webhook: 401 and 404), not that this message is wrong.
 */
export function verdictFor(
  answer: { status: number; retryAfterSeconds: number | null },
  attempt: number,
  goneStatuses: readonly number[] = [],
): DeliveryVerdict {
  const { status } = answer
  if (status >= 200 && status < 300) return { kind: 'delivered' }
  if (status === 429) return { kind: 'retry', delaySeconds: rateLimitDelay(answer.retryAfterSeconds, attempt), reason: 'rate limited (429)' }
  if (goneStatuses.includes(status)) return { kind: 'gone', reason: `target gone (${status})` }
  if (status >= 500 || status === 408) return { kind: 'retry', delaySeconds: backoffSeconds(attempt), reason: `platform error (${status})` }
  return { kind: 'failed', reason: `refused (${status})` }
}

/** The verdict on a fetch that threw (DNS, connection reset, timeout): always a retry. */
export function networkVerdict(error: unknown, attempt: number): DeliveryVerdict {
  return { kind: 'retry', delaySeconds: backoffSeconds(attempt), reason: `network error: ${error instanceof Error ? error.message : String(error)}` }
}
