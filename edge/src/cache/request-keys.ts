import { toHex } from '@snoopi/gpu-service/contract/hex'
import { canonicalJson, type CanonicalRequest } from './canonical-request.ts'

/** A request hash: 64 lowercase hex characters (HMAC-SHA256). */
export const REQUEST_HASH_PATTERN = /^[0-9a-f]{64}$/
/** An image id: 32 lowercase hex characters. */
export const IMAGE_ID_PATTERN = /^[0-9a-f]{32}$/

const encoder = new TextEncoder()
// One secret per deployment: keep its imported key instead of importing it on every request.
let cached: { secret: string; key: Promise<CryptoKey> } | undefined

function hmacKey(secret: string): Promise<CryptoKey> {
  if (cached?.secret !== secret) {
    const key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    cached = { secret, key }
  }
  return cached.key
}

async function hmacHex(secret: string, message: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(message))
  return toHex(mac)
}

/**
 * The request's cache key: hex HMAC-SHA256(secret, canonicalJson(canonical)). Keyed, so nobody
 * without `CACHE_KEY_SECRET` can compute the key (or the image URLs) of a prompt.
 *
 * `privateTo` (a key id) puts the request in that key's own namespace: HMAC(secret, `<key id>:` +
 * canonical JSON), so its manifest, images and coordinator are its own and no other key can ever hit
 * them. It cannot collide with a shared key's input (canonical JSON starts with `{`) nor with an
 * image id's (a hash starts with a hex digit; key ids with `key_`).
 *
 * @example await requestHash(config.CACHE_KEY_SECRET, canonical) // '3f9c…' (64 hex)
 * @example await requestHash(config.CACHE_KEY_SECRET, canonical, 'key_AbC123dEf456') // another 64 hex
 */
export function requestHash(secret: string, canonical: CanonicalRequest, privateTo?: string): Promise<string> {
  const json = canonicalJson(canonical)
  return hmacHex(secret, privateTo === undefined ? json : `${privateTo}:${json}`)
}

/**
 * The public id of image `index` of a request: the first 32 hex characters of
 * HMAC-SHA256(secret, `${hash}:${index}`). It reveals neither the prompt nor the request hash (so the
 * manifest key stays private). Cannot collide with a request hash's input: canonical JSON starts with `{`.
 *
 * @example await imageId(secret, hash, 0) // 'a1b2…' (32 hex)
 */
export async function imageId(secret: string, hash: string, index: number): Promise<string> {
  return (await hmacHex(secret, `${hash}:${index}`)).slice(0, 32)
}
