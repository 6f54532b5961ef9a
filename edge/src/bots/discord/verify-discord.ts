import { fromHex } from '@snoopi/gpu-service/contract/hex'
import { freshTimestamp } from '../bot-crypto.ts'

export const DISCORD_SIGNATURE_HEADER = 'x-signature-ed25519'
export const DISCORD_TIMESTAMP_HEADER = 'x-signature-timestamp'
/** Interactions older or newer than this (seconds) are refused as replays. */
export const DISCORD_TOLERANCE_SECONDS = 300

const encoder = new TextEncoder()
// One public key per deployment: import it once per isolate.
let cached: { hex: string; key: Promise<CryptoKey> } | undefined

function publicKey(hex: string): Promise<CryptoKey> {
  if (cached?.hex !== hex) {
    const raw = fromHex(hex.toLowerCase())
    if (!raw || raw.length !== 32) throw new Error('DISCORD_PUBLIC_KEY: not 32 bytes of hex')
    cached = { hex, key: crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']) }
  }
  return cached.key
}

/**
 * Discord's interaction signature: Ed25519 over `timestamp + raw body` with the application's public
 * key, the signature in `X-Signature-Ed25519` (hex) and the timestamp in `X-Signature-Timestamp`
 * (Unix seconds; also checked to be within ±5 minutes, so a captured request cannot be replayed later).
 */
export async function verifyDiscord(options: {
  publicKeyHex: string
  signature: string | null | undefined
  timestamp: string | null | undefined
  body: string
  nowMs?: number
}): Promise<boolean> {
  const { signature, timestamp } = options
  if (!signature || !timestamp) return false
  if (!freshTimestamp(timestamp, options.nowMs ?? Date.now(), DISCORD_TOLERANCE_SECONDS)) return false
  const bytes = fromHex(signature.toLowerCase())
  if (!bytes || bytes.length !== 64) return false
  return crypto.subtle.verify({ name: 'Ed25519' }, await publicKey(options.publicKeyHex), bytes, encoder.encode(timestamp + options.body))
}
