import { describe, expect, it } from 'vitest'
import { cacheControlDirectives, forcesRegeneration } from './forced-regeneration.ts'

describe('cacheControlDirectives', () => {
  it('parses names case-insensitively, token and quoted values, and skips junk', () => {
    expect(cacheControlDirectives('No-Cache, MAX-AGE=0')).toEqual(new Map([['no-cache', undefined], ['max-age', '0']]))
    expect(cacheControlDirectives(' max-age = "60" ,no-store')).toEqual(new Map([['max-age', '60'], ['no-store', undefined]]))
    expect(cacheControlDirectives('foo="a, no-cache, \\"b\\"", bar')).toEqual(new Map([['foo', 'a, no-cache, "b"'], ['bar', undefined]]))
    expect(cacheControlDirectives('max-age=10, max-age=0')).toEqual(new Map([['max-age', '10']]))
    expect(cacheControlDirectives('"odd", , no-cache')).toEqual(new Map([['no-cache', undefined]]))
    expect(cacheControlDirectives('')).toEqual(new Map())
  })
})

describe('forcesRegeneration', () => {
  it.each([
    [{ 'cache-control': 'no-cache' }, true],
    [{ 'cache-control': 'NO-CACHE' }, true],
    [{ 'cache-control': 'max-age=0' }, true],
    [{ 'cache-control': 'max-age=00, private' }, true],
    [{ 'cache-control': 'private, Max-Age=0' }, true],
    [{ pragma: 'no-cache' }, true],
    [{ pragma: 'No-Cache' }, true],
    [{ 'cache-control': 'max-age=60' }, false],
    [{ 'cache-control': 'no-cache-please' }, false],
    [{ 'cache-control': 'x-note="no-cache"' }, false],
    [{ 'cache-control': 'max-age=0x' }, false],
    [{ 'cache-control': 'no-store' }, false],
    [{ pragma: 'x-no-cache' }, false],
    [{}, false],
  ])('%j → %s', (headers, forced) => {
    expect(forcesRegeneration(new Headers(headers))).toBe(forced)
  })
})
