import type { DeliveryVerdict } from '../delivery-policy.ts'
import { backoffSeconds } from '../delivery-policy.ts'
import { callPlatform, deliverCall, type PlatformAnswer } from '../platform-http.ts'

/** A `response_url` takes 5 posts within 30 minutes; past either (a margin for clocks), it is not tried. */
export const RESPONSE_URL_MS = 30 * 60_000 - 30_000
export const RESPONSE_URL_USES = 5

export interface SlackApi {
  apiBase: string
  botToken?: string
}

/** A Web API answer: HTTP 200 with `{ok: false, error}` is a refusal; `ratelimited` is a retry. */
function webApiVerdict(answer: PlatformAnswer, attempt: number): DeliveryVerdict | null {
  if (answer.status !== 200) return null
  const body = answer.json as { ok?: boolean; error?: string } | null
  if (body?.ok === true) return { kind: 'delivered' }
  if (body?.error === 'ratelimited') return { kind: 'retry', delaySeconds: backoffSeconds(attempt), reason: 'rate limited' }
  if (body?.error === 'internal_error' || body?.error === 'fatal_error' || body?.error === 'service_unavailable') {
    return { kind: 'retry', delaySeconds: backoffSeconds(attempt), reason: `slack: ${body.error}` }
  }
  return { kind: 'failed', reason: `slack: ${body?.error ?? 'not ok'}` }
}

/** A POST to a `response_url` (no token: the URL is it). 404/410: used up or expired. */
export function postResponseUrl(url: string, message: unknown, attempt: number) {
  return deliverCall(url, { method: 'POST', body: message }, attempt, { goneStatuses: [404, 410] })
}

/** `chat.postMessage` with the bot token. */
export function chatPostMessage(api: SlackApi & { botToken: string }, message: unknown, attempt: number) {
  return deliverCall(`${api.apiBase}/chat.postMessage`, { method: 'POST', headers: { authorization: `Bearer ${api.botToken}` }, body: message }, attempt, {
    accept: (answer) => webApiVerdict(answer, attempt),
  })
}

/** `views.open` (the "Without…" modal) within the click's 3-second trigger window. True when Slack opened it. */
export async function viewsOpen(api: SlackApi & { botToken: string }, triggerId: string, view: unknown): Promise<boolean> {
  try {
    const answer = await callPlatform(`${api.apiBase}/views.open`, { method: 'POST', headers: { authorization: `Bearer ${api.botToken}` }, body: { trigger_id: triggerId, view } })
    return answer.status === 200 && (answer.json as { ok?: boolean } | null)?.ok === true
  } catch {
    return false
  }
}

export interface SlackDelivery {
  responseUrl?: string
  issuedAt: number
  channelId?: string
  /** Posts made to `responseUrl` so far. */
  uses: number
}

/**
 * Delivers through `response_url` while its budget lasts (30 minutes, 5 uses); once it is spent or
 * Slack says it is gone, through `chat.postMessage` with the bot token (when there is one and the
 * channel is known). `used` says whether this call spent one of the URL's uses.
 */
export async function deliverSlack(
  api: SlackApi,
  target: SlackDelivery,
  viaResponseUrl: unknown,
  viaPost: (channel: string) => unknown,
  attempt: number,
  nowMs: number,
): Promise<{ verdict: DeliveryVerdict; via: 'response_url' | 'chat.postMessage' | 'none'; used: boolean }> {
  let used = false
  if (target.responseUrl && target.uses < RESPONSE_URL_USES && nowMs - target.issuedAt < RESPONSE_URL_MS) {
    const { verdict, answer } = await postResponseUrl(target.responseUrl, viaResponseUrl, attempt)
    used = answer !== undefined
    if (verdict.kind !== 'gone') return { verdict, via: 'response_url', used }
  }
  if (api.botToken && target.channelId) {
    const { verdict } = await chatPostMessage({ ...api, botToken: api.botToken }, viaPost(target.channelId), attempt)
    return { verdict, via: 'chat.postMessage', used }
  }
  return { verdict: { kind: 'gone', reason: 'the response_url is spent and there is no bot-token fallback' }, via: 'none', used }
}
