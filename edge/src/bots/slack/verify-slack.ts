import { fromHex, toHex } from '@snoopi/gpu-service/contract/hex'
import { freshTimestamp } from '../bot-crypto.ts'

export const SLACK_SIGNATURE_HEADER = 'x-slack-signature'
export const SLACK_TIMESTAMP_HEADER = 'x-slack-request-timestamp'
/** Slack's replay window: a request more than 5 minutes old (or ahead) is refused. */
export const SLACK_TOLERANCE_SECONDS = 300

const encoder = new TextEncoder()
let cached: { secret: string; key: Promise<CryptoKey> } | undefined

function hmacKey(secret: string): Promise<CryptoKey> {
  if (cached?.secret !== secret) {
    cached = { secret, key: crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']) }
  }
  return cached.key
}

/** `v0=` + hex HMAC-SHA256(signing secret, `v0:{timestamp}:{body}`): what Slack sends (and what tests sign with). */
export async function slackSignature(secret: string, timestamp: string, body: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(`v0:${timestamp}:${body}`))
  return `v0=${toHex(mac)}`
}

/**
 * Slack's v0 request signature over the raw body, compared in constant time (WebCrypto's HMAC
 * verify), with the timestamp within ±5 minutes.
 */
export async function verifySlack(options: {
  signingSecret: string
  signature: string | null | undefined
  timestamp: string | null | undefined
  body: string
  nowMs?: number
}): Promise<boolean> {
  const { signature, timestamp } = options
  if (!signature || !timestamp || !signature.startsWith('v0=')) return false
  if (!freshTimestamp(timestamp, options.nowMs ?? Date.now(), SLACK_TOLERANCE_SECONDS)) return false
  const mac = fromHex(signature.slice(3).toLowerCase())
  if (!mac || mac.length !== 32) return false
  return crypto.subtle.verify('HMAC', await hmacKey(options.signingSecret), mac, encoder.encode(`v0:${timestamp}:${options.body}`))
}
