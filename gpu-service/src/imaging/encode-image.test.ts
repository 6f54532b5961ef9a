import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { IMAGE_FORMATS, contentTypeOf, encodeImage, isImageFormat } from './encode-image.ts'
import type { ImageFormat } from './encode-image.ts'

const [WIDTH, HEIGHT] = [96, 64]

/** A smooth gradient: lossy codecs should reproduce it within a few levels. */
function gradient(): Uint8Array {
  const rgb = new Uint8Array(WIDTH * HEIGHT * 3)
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 3
      rgb[i] = (x * 255) / (WIDTH - 1)
      rgb[i + 1] = (y * 255) / (HEIGHT - 1)
      rgb[i + 2] = 128 + 100 * Math.sin((x + y) / 20)
    }
  }
  return rgb
}

function meanAbsError(a: Uint8Array, b: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!)
  return sum / a.length
}

describe('encodeImage', () => {
  const rgb = gradient()

  it.each(IMAGE_FORMATS)('encodes %s that sharp decodes to the same size', async (format) => {
    const encoded = await encodeImage(rgb, WIDTH, HEIGHT, format)
    const { data, info } = await sharp(encoded).removeAlpha().raw().toBuffer({ resolveWithObject: true })
    expect([info.format, info.width, info.height, info.channels]).toEqual(['raw', WIDTH, HEIGHT, 3])
    expect((await sharp(encoded).metadata()).format).toBe(format)
    const error = meanAbsError(new Uint8Array(data), rgb)
    if (format === 'png') expect(error).toBe(0)
    else expect(error).toBeLessThan(8)
  })

  it('passes quality to the lossy encoders', async () => {
    for (const format of ['webp', 'jpeg'] as const) {
      const low = await encodeImage(rgb, WIDTH, HEIGHT, format, { quality: 20 })
      const high = await encodeImage(rgb, WIDTH, HEIGHT, format, { quality: 95 })
      expect(low.length).toBeLessThan(high.length)
    }
  })

  it('rejects an unknown format, a bad quality and a size mismatch', async () => {
    await expect(encodeImage(rgb, WIDTH, HEIGHT, 'gif' as ImageFormat)).rejects.toThrow(
      'unsupported image format "gif"; expected one of png, webp, jpeg',
    )
    for (const quality of [0, 101, 50.5]) {
      await expect(encodeImage(rgb, WIDTH, HEIGHT, 'jpeg', { quality })).rejects.toThrow(
        'quality must be an integer in [1, 100]',
      )
    }
    await expect(encodeImage(rgb, WIDTH + 1, HEIGHT, 'webp')).rejects.toThrow(/rgb has 18432 bytes; 97×64 RGB needs/)
    await expect(encodeImage(rgb, 0, HEIGHT, 'jpeg')).rejects.toThrow('width must be a positive integer')
  })
})

describe('contentTypeOf / isImageFormat', () => {
  it('maps each format to its media type', () => {
    expect(IMAGE_FORMATS.map(contentTypeOf)).toEqual(['image/png', 'image/webp', 'image/jpeg'])
  })

  it('rejects other names', () => {
    expect(() => contentTypeOf('bmp' as ImageFormat)).toThrow('unsupported image format "bmp"')
    expect(isImageFormat('png')).toBe(true)
    expect(isImageFormat('PNG')).toBe(false)
    expect(isImageFormat(undefined)).toBe(false)
  })
})
