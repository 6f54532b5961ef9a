/**
 * API key format: `snp_live_<32 base62 random chars><6 base62 checksum chars>` (47 characters).
 *
 * - The prefix makes keys recognisable (secret scanners, logs, support).
 * - The body carries 32 · log2(62) ≈ 190 bits of entropy from `crypto.getRandomValues`.
 * - The checksum (SHA-256 of prefix + body, first 6 bytes, base62) lets `parseApiKey` reject typos,
 *   truncations and made-up strings without any storage read, so garbage never reaches a Durable Object.
 */

import { toHex } from '@snoopi/gpu-service/contract/hex'

export const API_KEY_PREFIX = 'snp_live_'
const BODY_LENGTH = 32
const CHECKSUM_LENGTH = 6
export const API_KEY_LENGTH = API_KEY_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const BASE62_TAIL = new RegExp(`^[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`)
const KEY_ID = /^key_[0-9A-Za-z]{12}$/

export type ApiKeyCheck = { ok: true; key: string } | { ok: false; reason: 'prefix' | 'length' | 'charset' | 'checksum' }

/** `length` uniformly random base62 characters (rejection sampling: bytes ≥ 248 are redrawn, so no bias). */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(Math.min(length * 2, 4096)))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62]
    }
  }
  return out
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}

/** The 6-character checksum of `prefix + body`: the first 48 bits of its SHA-256, as base62 (≈ 35.7 bits kept). */
async function checksum(prefixAndBody: string): Promise<string> {
  const digest = await sha256(prefixAndBody)
  let value = 0
  for (const byte of digest.subarray(0, 6)) value = value * 256 + byte // < 2^48: exact in a double
  let out = ''
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out
    value = Math.floor(value / 62)
  }
  return out
}

/**
 * A new API key. Shown to its owner once (the admin route's answer); only its hash is ever stored.
 *
 * @example const key = await generateApiKey() // 'snp_live_…' (47 characters)
 */
export async function generateApiKey(): Promise<string> {
  const prefixAndBody = API_KEY_PREFIX + randomBase62(BODY_LENGTH)
  return prefixAndBody + (await checksum(prefixAndBody))
}

/**
 * Checks a string's shape — prefix, length, charset, checksum — without touching storage. The cheap
 * checks come first, so arbitrary (even huge) input costs at most one SHA-256 of 41 bytes.
 */
export async function parseApiKey(text: string): Promise<ApiKeyCheck> {
  if (!text.startsWith(API_KEY_PREFIX)) return { ok: false, reason: 'prefix' }
  if (text.length !== API_KEY_LENGTH) return { ok: false, reason: 'length' }
  const tail = text.slice(API_KEY_PREFIX.length)
  if (!BASE62_TAIL.test(tail)) return { ok: false, reason: 'charset' }
  const prefixAndBody = text.slice(0, API_KEY_LENGTH - CHECKSUM_LENGTH)
  if ((await checksum(prefixAndBody)) !== text.slice(-CHECKSUM_LENGTH)) return { ok: false, reason: 'checksum' }
  return { ok: true, key: text }
}

/**
 * Hex SHA-256 of a key: the name of its Durable Object and the only key material stored anywhere.
 * A plain, unsalted hash is safe here (unlike for passwords) because keys carry ~190 bits of entropy:
 * no dictionary or brute-force search over the input space is possible, so a slow KDF would add
 * latency and nothing else.
 */
export async function keyHash(key: string): Promise<string> {
  return toHex(await sha256(key))
}

/** A key's short public id (`key_` + 12 base62, ≈ 71 bits), shown in listings and used to revoke it. */
export function generateKeyId(): string {
  return `key_${randomBase62(12)}`
}

export function isKeyId(text: string): boolean {
  return KEY_ID.test(text)
}
