import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { API_KEY_LENGTH, API_KEY_PREFIX, generateApiKey, generateKeyId, isKeyId, keyHash, parseApiKey, randomBase62 } from './api-key.ts'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function replaceAt(text: string, index: number, char: string): string {
  return text.slice(0, index) + char + text.slice(index + 1)
}

describe('API key format', () => {
  it('generates prefixed 47-character base62 keys that parse, all different', async () => {
    const keys = await Promise.all(Array.from({ length: 50 }, () => generateApiKey()))
    for (const key of keys) {
      expect(key).toMatch(/^snp_live_[0-9A-Za-z]{38}$/)
      expect(key).toHaveLength(API_KEY_LENGTH)
      expect(await parseApiKey(key)).toEqual({ ok: true, key })
    }
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('rejects the wrong prefix, length, charset and checksum, naming the reason', async () => {
    const key = await generateApiKey()
    expect(await parseApiKey('sk-' + key.slice(3))).toEqual({ ok: false, reason: 'prefix' })
    expect(await parseApiKey('snp_test_' + key.slice(9))).toEqual({ ok: false, reason: 'prefix' })
    expect(await parseApiKey(key.slice(0, -1))).toEqual({ ok: false, reason: 'length' })
    expect(await parseApiKey(key + 'A')).toEqual({ ok: false, reason: 'length' })
    expect(await parseApiKey(replaceAt(key, 20, '-'))).toEqual({ ok: false, reason: 'charset' })
    expect(await parseApiKey(replaceAt(key, 20, 'é'))).toEqual({ ok: false, reason: 'charset' })
    const last = key.at(-1) === 'A' ? 'B' : 'A'
    expect(await parseApiKey(replaceAt(key, key.length - 1, last))).toEqual({ ok: false, reason: 'checksum' })
    expect(await parseApiKey('')).toEqual({ ok: false, reason: 'prefix' })
  })

  it('catches any single-character change of the body or checksum (property)', async () => {
    const key = await generateApiKey()
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: API_KEY_PREFIX.length, max: API_KEY_LENGTH - 1 }), fc.constantFrom(...BASE62), async (index, char) => {
        fc.pre(key[index] !== char)
        expect((await parseApiKey(replaceAt(key, index, char))).ok).toBe(false)
      }),
      { numRuns: 300 },
    )
  })

  it('hashes a key to 64 hex characters, deterministically', async () => {
    const key = await generateApiKey()
    const hash = await keyHash(key)
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect(await keyHash(key)).toBe(hash)
    expect(await keyHash(await generateApiKey())).not.toBe(hash)
    // Known vector: SHA-256("abc").
    expect(await keyHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('makes short public key ids', () => {
    const id = generateKeyId()
    expect(id).toMatch(/^key_[0-9A-Za-z]{12}$/)
    expect(isKeyId(id)).toBe(true)
    expect(isKeyId('key_short')).toBe(false)
    expect(isKeyId(`${id}x`)).toBe(false)
  })

  it('draws base62 characters uniformly enough (no modulo bias)', () => {
    const counts = new Map<string, number>()
    for (const char of randomBase62(62_000)) counts.set(char, (counts.get(char) ?? 0) + 1)
    expect(counts.size).toBe(62)
    // 1000 expected per character; ±20 % is ~6 standard deviations.
    for (const n of counts.values()) expect(n).toBeGreaterThan(800)
    for (const n of counts.values()) expect(n).toBeLessThan(1200)
  })
})
