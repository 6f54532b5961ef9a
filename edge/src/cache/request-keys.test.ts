import { describe, expect, it } from 'vitest'
import type { CanonicalRequest } from './canonical-request.ts'
import { IMAGE_ID_PATTERN, imageId, REQUEST_HASH_PATTERN, requestHash } from './request-keys.ts'

const secret = 'test-cache-key-secret-0123456789abcdef01'
const canonical: CanonicalRequest = { model: 'm', version: 'v', prompt: 'a cat', n: 2, size: '64x64', output_format: 'png' }

/** Reference HMAC-SHA256 through WebCrypto, independent of the module's key cache. */
async function hmac(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey('raw', new TextEncoder().encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', k, new TextEncoder().encode(message)))
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('')
}

describe('request keys', () => {
  it('hashes the canonical JSON with HMAC-SHA256', async () => {
    const hash = await requestHash(secret, canonical)
    expect(hash).toMatch(REQUEST_HASH_PATTERN)
    expect(hash).toBe(await hmac(secret, '{"model":"m","n":2,"output_format":"png","prompt":"a cat","size":"64x64","version":"v"}'))
  })

  it('gives each image a url-safe id that is neither the hash nor the prompt', async () => {
    const hash = await requestHash(secret, canonical)
    const ids = [await imageId(secret, hash, 0), await imageId(secret, hash, 1)]
    for (const id of ids) {
      expect(id).toMatch(IMAGE_ID_PATTERN)
      expect(hash).not.toContain(id)
    }
    expect(ids[0]).not.toBe(ids[1])
    expect(ids[0]).toBe((await hmac(secret, `${hash}:0`)).slice(0, 32))
    expect(await imageId(secret, hash, 0)).toBe(ids[0])
  })

  it('puts a private key’s requests in a namespace of their own', async () => {
    const shared = await requestHash(secret, canonical)
    const mine = await requestHash(secret, canonical, 'key_AAAAAAAAAAAA')
    const theirs = await requestHash(secret, canonical, 'key_BBBBBBBBBBBB')
    expect(new Set([shared, mine, theirs]).size).toBe(3)
    expect(mine).toMatch(REQUEST_HASH_PATTERN)
    expect(mine).toBe(await hmac(secret, 'key_AAAAAAAAAAAA:{"model":"m","n":2,"output_format":"png","prompt":"a cat","size":"64x64","version":"v"}'))
    expect(await requestHash(secret, canonical, 'key_AAAAAAAAAAAA')).toBe(mine)
  })

  it('switches keys when the secret changes', async () => {
    const a = await requestHash(secret, canonical)
    const b = await requestHash(`${secret}-rotated`, canonical)
    expect(b).not.toBe(a)
    expect(await requestHash(secret, canonical)).toBe(a)
  })
})
