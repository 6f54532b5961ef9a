import { describe, expect, it } from 'vitest'
import { ApiError } from '../errors/api-error.ts'
import type { CanonicalRequest } from './canonical-request.ts'
import { MAX_SEED } from '@snoopi/gpu-service/contract/limits'
import { checkSeedRange, imageSeeds, parseClientSeed, seedFor } from './request-seed.ts'

const base: CanonicalRequest = { model: 'm', version: 'v', prompt: 'a cat', n: 1, size: '64x64', output_format: 'png' }
const hash = '0123456789abcdef' + 'f'.repeat(48)

describe('request seeds', () => {
  it('uses the client seed when there is one', () => {
    expect(seedFor({ ...base, seed: '18446744073709551615' }, hash)).toBe(MAX_SEED)
    expect(imageSeeds({ ...base, n: 3, seed: '5' }, hash)).toEqual([5n, 6n, 7n])
  })

  it('derives the seed from the first 8 bytes of the hash, deterministically', () => {
    expect(seedFor(base, hash)).toBe(0x0123456789abcdefn)
    expect(seedFor(base, hash)).toBe(seedFor({ ...base }, hash))
    expect(imageSeeds({ ...base, n: 2 }, hash)).toEqual([0x0123456789abcdefn, 0x0123456789abcdf0n])
  })

  it('lowers a derived seed so the whole batch stays within 2^64 - 1', () => {
    const top = 'f'.repeat(64)
    expect(seedFor(base, top)).toBe(MAX_SEED)
    expect(imageSeeds({ ...base, n: 4 }, top)).toEqual([MAX_SEED - 3n, MAX_SEED - 2n, MAX_SEED - 1n, MAX_SEED])
  })

  it('rejects client seeds outside 0 … 2^64 - 1, and batches that would wrap, with a 400', () => {
    expect(parseClientSeed(0)).toBe(0n)
    expect(parseClientSeed('007')).toBe(7n)
    expect(() => parseClientSeed('18446744073709551616')).toThrow(ApiError)
    expect(() => checkSeedRange(MAX_SEED - 1n, 2)).not.toThrow()
    let error: unknown
    try {
      checkSeedRange(MAX_SEED - 1n, 3)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(400)
    expect((error as ApiError).code).toBe('invalid_seed')
  })
})
