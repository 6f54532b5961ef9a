import { signWebhook } from './webhook-signature.ts'
import { checkWebhookUrl, isRefusedAddress, type WebhookUrlRules } from './webhook-url.ts'

/**
 * Delivering one webhook attempt, and when to try again.
 *
 * Retry schedule (seconds before each attempt, from the previous one): the first at once, then 5 s,
 * 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts over 27 h 35 min. A 2xx ends it; 410 Gone
 * stops it (the receiver asked for no more); anything else — another status, a redirect (never
 * followed), a timeout (15 s), a connection failure, a target the SSRF rules refuse — is a failed
 * attempt. Each attempt is signed afresh (a new `webhook-timestamp`) with the same `webhook-id`.
 */
export const DELIVERY_SCHEDULE_S = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const
export const DELIVERY_TIMEOUT_MS = 15_000
/** How much of a receiver's answer is read (for the log): the rest is never downloaded. */
export const MAX_RESPONSE_BYTES = 4096
/** DNS over HTTPS (JSON) used to check where a webhook hostname points before each delivery. */
export const DOH_URL = 'https://cloudflare-dns.com/dns-query'

/** Seconds from attempt `attemptsMade` (1-based count of attempts so far) to the next; undefined when none is left. */
export function nextAttemptDelay(attemptsMade: number): number | undefined {
  return DELIVERY_SCHEDULE_S[attemptsMade]
}

export type AttemptResult = { outcome: 'delivered' | 'gone' | 'failed'; detail: string }

interface DohAnswer {
  Status?: number
  Answer?: { type: number; data: string }[]
}

/** The A and AAAA addresses of `name` (DNS over HTTPS); throws when it cannot be resolved. */
export async function resolveHost(name: string): Promise<string[]> {
  const lookups = await Promise.all(
    ['A', 'AAAA'].map(async (type) => {
      const response = await fetch(`${DOH_URL}?name=${encodeURIComponent(name)}&type=${type}`, {
        headers: { accept: 'application/dns-json' },
        signal: AbortSignal.timeout(5_000),
      })
      if (!response.ok) throw new Error(`DNS lookup of ${name} (${type}) answered ${response.status}`)
      const answer = await response.json<DohAnswer>()
      if (answer.Status !== 0 && answer.Status !== 3) throw new Error(`DNS lookup of ${name} (${type}) failed with status ${answer.Status}`)
      return (answer.Answer ?? []).filter((a) => a.type === 1 || a.type === 28).map((a) => a.data)
    }),
  )
  return lookups.flat()
}

/** The URL again by its form, then (for a hostname) every address it resolves to. */
export async function checkDeliveryTarget(url: string, rules: WebhookUrlRules, resolve: (name: string) => Promise<string[]> = resolveHost): Promise<{ ok: true; url: URL } | { ok: false; reason: string }> {
  const target = checkWebhookUrl(url, rules)
  if (!target.ok) return target
  if (target.host.kind !== 'name') return { ok: true, url: target.url }
  let addresses: string[]
  try {
    addresses = await resolve(target.host.name)
  } catch (error) {
    return { ok: false, reason: String(error) }
  }
  if (addresses.length === 0) return { ok: false, reason: `${target.host.name} does not resolve` }
  const refused = addresses.find(isRefusedAddress)
  return refused ? { ok: false, reason: `${target.host.name} resolves to ${refused}, a refused address` } : { ok: true, url: target.url }
}

async function readSome(response: Response): Promise<string> {
  if (!response.body) return ''
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < MAX_RESPONSE_BYTES) {
      const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read()
      if (chunk.done) break
      const value = chunk.value
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return new TextDecoder().decode(bytes.subarray(0, MAX_RESPONSE_BYTES))
}

/** One signed attempt: POST `body` to `url` (after the SSRF checks), never following a redirect. */
export async function attemptDelivery(options: {
  url: string
  rules: WebhookUrlRules
  id: string
  body: string
  secrets: readonly string[]
  nowSeconds: number
  resolve?: (name: string) => Promise<string[]>
}): Promise<AttemptResult> {
  const target = await checkDeliveryTarget(options.url, options.rules, options.resolve)
  if (!target.ok) return { outcome: 'failed', detail: `refused: ${target.reason}` }
  if (options.secrets.length === 0) return { outcome: 'failed', detail: 'the key has no webhook secret' }
  const headers = await signWebhook({ id: options.id, timestampSeconds: options.nowSeconds, body: options.body, secrets: options.secrets })
  let response: Response
  try {
    response = await fetch(target.url.toString(), {
      method: 'POST',
      body: options.body,
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'snoopi-webhooks/1' },
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    })
  } catch (error) {
    return { outcome: 'failed', detail: error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : `connection failed: ${String(error)}` }
  }
  const text = await readSome(response).catch(() => '')
  const detail = `${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`
  if (response.status >= 200 && response.status < 300) return { outcome: 'delivered', detail }
  if (response.status === 410) return { outcome: 'gone', detail }
  return { outcome: 'failed', detail: response.status >= 300 && response.status < 400 ? `redirect not followed (${detail})` : detail }
}
