import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from './hex.ts'

describe('contract hex', () => {
  it("writes and reads bytes as Node's Buffer does", () => {
    for (const size of [0, 1, 16, 33]) {
      const bytes = new Uint8Array(randomBytes(size))
      const hex = toHex(bytes)
      expect(hex).toBe(Buffer.from(bytes).toString('hex'))
      expect(toHex(bytes.buffer)).toBe(hex)
      expect(fromHex(hex)).toEqual(bytes)
    }
  })

  it('reads only lowercase hex of an even length', () => {
    for (const bad of ['a', 'abc', 'AB', 'zz', '0x00', ' 00', '00 ']) expect(fromHex(bad)).toBeUndefined()
    expect(fromHex('00ff')).toEqual(new Uint8Array([0, 255]))
  })
})
