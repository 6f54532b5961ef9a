import { describe, expect, it } from 'vitest'
import { etagMd5, parseSha256Sums } from './checksums.ts'

const a = 'a'.repeat(64)
const b = 'B'.repeat(64)

describe('parseSha256Sums', () => {
  it('reads text and binary mode lines, dropping ./ and blank lines', () => {
    const sums = parseSha256Sums(`${a}  unet/model.onnx\r\n\n${b} *./vae_decoder/model.onnx\n${a}  name with spaces.txt\n`)
    expect([...sums]).toEqual([
      ['unet/model.onnx', a],
      ['vae_decoder/model.onnx', 'b'.repeat(64)],
      ['name with spaces.txt', a],
    ])
  })

  it('names the line that is not sha256sum output', () => {
    expect(() => parseSha256Sums(`${a}  ok\n${'a'.repeat(63)}  short\n`)).toThrow(
      `model store: SHA256SUMS: line 2 is not "<sha256>  <path>": "${'a'.repeat(63)}  short"`,
    )
    expect(() => parseSha256Sums(`${a}  x\n${b}  x\n`)).toThrow('model store: SHA256SUMS: line 2 names x a second time')
  })
})

describe('etagMd5', () => {
  it('is the MD5 of a single-part ETag and undefined for a multipart one', () => {
    expect(etagMd5('"5D41402ABC4B2A76B9719D911017C592"')).toBe('5d41402abc4b2a76b9719d911017c592')
    expect(etagMd5('5d41402abc4b2a76b9719d911017c592')).toBe('5d41402abc4b2a76b9719d911017c592')
    expect(etagMd5('"d41d8cd98f00b204e9800998ecf8427e-12"')).toBeUndefined()
    expect(etagMd5('')).toBeUndefined()
  })
})
