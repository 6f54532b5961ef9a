import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32 } from './crc32.ts'

describe('crc32', () => {
  it('has the standard check value for "123456789"', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
  })

  it('agrees with zlib.crc32 on random data, and continues a running CRC', () => {
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 2654435761) >>> 24)
    expect(crc32(data)).toBe(zlib.crc32(data))
    expect(crc32(data.subarray(6000), crc32(data.subarray(0, 6000)))).toBe(zlib.crc32(data))
  })
})
