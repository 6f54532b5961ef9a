import { describe, expect, it } from 'vitest'
import { fromHalfBits, toHalfBits } from './float16.ts'

describe('float16', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds to +Inf
    [Number.POSITIVE_INFINITY, 0x7c00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // underflow
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // tie → even
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
  ])('encodes %d as %i', (value, bits) => {
    expect(toHalfBits(value)).toBe(bits)
  })

  it('round-trips every finite half value exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponent = (bits >>> 10) & 0x1f
      if (exponent === 0x1f) continue
      expect(toHalfBits(fromHalfBits(bits))).toBe(bits === 0x8000 ? 0x8000 : bits)
    }
  })

  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(fromHalfBits(toHalfBits(Number.NaN)))).toBe(true)
  })
})
