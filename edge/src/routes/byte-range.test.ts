import { describe, expect, it } from 'vitest'
import { ifRangeHolds, parseRange } from './byte-range.ts'

describe('parseRange', () => {
  it.each([
    ['no header', null, undefined],
    ['first bytes', 'bytes=0-1', { start: 0, end: 1 }],
    ['an open end', 'bytes=4-', { start: 4, end: 10 }],
    ['an end past the size (clamped)', 'bytes=8-99', { start: 8, end: 10 }],
    ['a suffix', 'bytes=-3', { start: 8, end: 10 }],
    ['a suffix longer than the image', 'bytes=-50', { start: 0, end: 10 }],
    ['case and spaces', ' Bytes = 2 - 3 ', { start: 2, end: 3 }],
    ['a start past the end', 'bytes=11-', 'unsatisfiable'],
    ['a zero suffix', 'bytes=-0', 'unsatisfiable'],
    ['several ranges (served whole)', 'bytes=0-1,3-4', undefined],
    ['another unit', 'items=0-1', undefined],
    ['end before start (ignored)', 'bytes=5-2', undefined],
    ['garbage', 'bytes=a-b', undefined],
    ['an empty range spec', 'bytes=-', undefined],
  ])('%s', (_name, header, expected) => {
    expect(parseRange(header, 11)).toEqual(expected)
  })
})

describe('ifRangeHolds', () => {
  const request = (value?: string) => new Request('https://x.test', value === undefined ? {} : { headers: { 'if-range': value } })
  it('holds without If-Range, with the same strong etag or the same date, and not otherwise', () => {
    expect(ifRangeHolds(request(), '"a"', null)).toBe(true)
    expect(ifRangeHolds(request('"a"'), '"a"', null)).toBe(true)
    expect(ifRangeHolds(request('"b"'), '"a"', null)).toBe(false)
    expect(ifRangeHolds(request('W/"a"'), 'W/"a"', null)).toBe(false)
    const date = 'Tue, 01 Dec 2026 10:00:00 GMT'
    expect(ifRangeHolds(request(date), '"a"', date)).toBe(true)
    expect(ifRangeHolds(request('Tue, 01 Dec 2026 11:00:00 GMT'), '"a"', date)).toBe(false)
  })
})
