import { describe, expect, it } from 'vitest'
import { byteToUnicode, byteUnicodeOrder, encodeBytes } from './bytes-to-unicode.ts'

describe('bytes_to_unicode', () => {
  it('maps the 256 bytes to 256 distinct single characters', () => {
    expect(new Set(byteToUnicode).size).toBe(256)
    expect(byteToUnicode.every((c) => c.length === 1)).toBe(true)
  })

  it('keeps printable bytes and moves the rest to U+0100 onwards, in GPT-2\'s order', () => {
    expect(byteToUnicode[0x41]).toBe('A')
    expect(byteToUnicode[0x00]).toBe('\u0100')
    expect(byteToUnicode[0x20]).toBe('Ġ')
    expect(byteToUnicode[0xad]).toBe('Ń')
    expect(byteUnicodeOrder.slice(0, 3)).toEqual(['!', '"', '#'])
    expect(byteUnicodeOrder[188]).toBe('\u0100')
    expect(byteUnicodeOrder[255]).toBe('Ń')
  })

  it('encodes text as its UTF-8 bytes', () => {
    expect(encodeBytes('é ')).toBe('Ã©Ġ')
  })
})
