import zlib from 'node:zlib'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { gaussianNoise } from '../diffusion/gaussian-noise.ts'
import { PNG_FILTERS } from './png-filter.ts'
import { encodePng } from './png.ts'

/** Gradients, flat areas, hard edges and noise, so every filter (and the adaptive choice) gets work. */
function testImage(width: number, height: number, seed = 1n): Uint8Array {
  const noise = gaussianNoise(seed, width * height * 3)
  const rgb = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3
      const noisy = y > height / 2
      rgb[i] = (x * 255) / Math.max(1, width - 1)
      rgb[i + 1] = x < width / 3 ? 200 : (y * 255) / Math.max(1, height - 1)
      rgb[i + 2] = noisy ? Math.min(255, Math.max(0, 128 + 60 * noise[i]!)) : 40
    }
  }
  return rgb
}

interface Chunk {
  type: string
  data: Buffer
  crc: number
}

function chunksOf(png: Buffer): Chunk[] {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  const chunks: Chunk[] = []
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at)
    chunks.push({
      type: png.toString('latin1', at + 4, at + 8),
      data: png.subarray(at + 8, at + 8 + length),
      crc: png.readUInt32BE(at + 8 + length),
    })
    expect(png.readUInt32BE(at + 8 + length)).toBe(zlib.crc32(png.subarray(at + 4, at + 8 + length)))
    at += 12 + length
  }
  return chunks
}

describe('encodePng', () => {
  it.each(PNG_FILTERS)('round-trips exactly through sharp with filter %s', async (filter) => {
    for (const [width, height] of [
      [64, 48],
      [37, 23],
      [1, 1],
      [1, 9],
      [9, 1],
    ] as const) {
      const rgb = testImage(width, height)
      const png = encodePng(rgb, width, height, { filter })
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
      expect([info.width, info.height, info.channels]).toEqual([width, height, 3])
      expect(new Uint8Array(data)).toEqual(rgb)
    }
  })

  it('writes exactly IHDR, IDAT, IEND with valid CRCs and an 8-bit RGB header', () => {
    const png = encodePng(testImage(40, 30), 40, 30)
    const chunks = chunksOf(png)
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND'])
    const ihdr = chunks[0]!.data
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ...ihdr.subarray(8)]).toEqual([40, 30, 8, 2, 0, 0, 0])
    expect(chunks[2]!.data.length).toBe(0)
  })

  it('defaults to Paeth; adaptive mixes filter types per row', () => {
    const [width, height] = [64, 48]
    const filterBytes = (png: Buffer): Set<number> => {
      const raw = zlib.inflateSync(chunksOf(png)[1]!.data)
      return new Set(Array.from({ length: height }, (_, y) => raw[y * (width * 3 + 1)]!))
    }
    const rgb = testImage(width, height)
    expect(filterBytes(encodePng(rgb, width, height))).toEqual(new Set([4]))
    expect(filterBytes(encodePng(rgb, width, height, { filter: 'adaptive' })).size).toBeGreaterThan(1)
  })

  it('is byte-identical for the same input and options', () => {
    const rgb = testImage(128, 96, 9n)
    expect(encodePng(rgb, 128, 96).equals(encodePng(rgb.slice(), 128, 96))).toBe(true)
    const adaptive = encodePng(rgb, 128, 96, { filter: 'adaptive', level: 9 })
    expect(adaptive.equals(encodePng(rgb, 128, 96, { filter: 'adaptive', level: 9 }))).toBe(true)
  })

  it('rejects bad sizes, levels and filters', () => {
    const rgb = new Uint8Array(12)
    expect(() => encodePng(rgb, 2, 3)).toThrow('rgb has 12 bytes; 2×3 RGB needs 18')
    expect(() => encodePng(rgb, 0, 2)).toThrow('width must be an integer in [1, 2147483647]')
    expect(() => encodePng(rgb, 2, 1.5)).toThrow('height must be an integer in [1, 2147483647]')
    expect(() => encodePng(rgb, 2, 2, { level: 10 })).toThrow('level must be an integer in [0, 9]')
    expect(() => encodePng(rgb, 2, 2, { filter: 'best' as 'none' })).toThrow(
      'unsupported PNG filter "best"; expected one of none, sub, up, average, paeth, adaptive',
    )
  })
})
