import { networkVerdict, parseRetryAfter, verdictFor, type DeliveryVerdict } from './delivery-policy.ts'

/** How long one call to a platform API may take. */
export const PLATFORM_TIMEOUT_MS = 10_000

/** A platform's answer, read once: status, the wait it asks for on a 429, and its JSON body (if any). */
export interface PlatformAnswer {
  status: number
  retryAfterSeconds: number | null
  json: unknown
  text: string
}

/** A JSON call to a platform API; a network error or a timeout throws. */
export async function callPlatform(url: string, init: { method: string; headers?: Record<string, string>; body?: unknown }): Promise<PlatformAnswer> {
  const response = await fetch(url, {
    method: init.method,
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(PLATFORM_TIMEOUT_MS),
  })
  const text = await response.text()
  let json: unknown
  try {
    json = text === '' ? null : (JSON.parse(text) as unknown)
  } catch {
    json = null
  }
  // Discord and Telegram also say it in the body (`retry_after`, `parameters.retry_after`).
  const body = (json ?? {}) as { retry_after?: unknown; parameters?: { retry_after?: unknown } }
  const bodyWait = typeof body.retry_after === 'number' ? body.retry_after : typeof body.parameters?.retry_after === 'number' ? body.parameters.retry_after : null
  return { status: response.status, retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')) ?? bodyWait, json, text }
}

/** A call and its verdict (see delivery-policy.ts); `goneStatuses` mean the target is gone. */
export async function deliverCall(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: unknown },
  attempt: number,
  options: { goneStatuses?: readonly number[]; accept?: (answer: PlatformAnswer) => DeliveryVerdict | null } = {},
): Promise<{ verdict: DeliveryVerdict; answer?: PlatformAnswer }> {
  let answer: PlatformAnswer
  try {
    answer = await callPlatform(url, init)
  } catch (error) {
    return { verdict: networkVerdict(error, attempt) }
  }
  return { verdict: options.accept?.(answer) ?? verdictFor(answer, attempt, options.goneStatuses), answer }
}
