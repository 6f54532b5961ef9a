import { describe, expect, it } from 'vitest'
import { MAX_SEED, parseSeed } from './seed.ts'

describe('parseSeed', () => {
  it('accepts bigints across the whole u64 range and safe-integer numbers', () => {
    expect(parseSeed(0n)).toBe(0n)
    expect(parseSeed(MAX_SEED)).toBe(18446744073709551615n)
    expect(parseSeed(42)).toBe(42n)
    expect(parseSeed(Number.MAX_SAFE_INTEGER)).toBe(9007199254740991n)
  })

  it.each([-1n, 2n ** 64n, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects %s', (seed) => {
    expect(() => parseSeed(seed)).toThrow('seed must be an integer in [0, 2^64-1]')
  })

  it('rejects non-numbers from untyped callers', () => {
    expect(() => parseSeed('7' as unknown as number)).toThrow('seed must be an integer in [0, 2^64-1]')
  })

  it('asks for a bigint above 2^53-1, where a number may already be rounded', () => {
    expect(() => parseSeed(2 ** 60)).toThrow(/above 2\^53-1 must be passed as a bigint/)
  })
})
