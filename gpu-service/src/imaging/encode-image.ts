import sharp from 'sharp'
import { OUTPUT_FORMATS, type OutputFormat } from '../contract/limits.ts'
import { encodePng } from './png.ts'

/** Output formats of the image API (the contract's). */
export const IMAGE_FORMATS = OUTPUT_FORMATS
export type ImageFormat = OutputFormat

export interface EncodeOptions {
  /** Lossy quality 1–100 for webp and jpeg (validated, but unused, for png). Default 90. */
  quality?: number
}

const CONTENT_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  webp: 'image/webp',
  jpeg: 'image/jpeg',
}

/** True for the format names `encodeImage` accepts (for request validation). */
export function isImageFormat(value: unknown): value is ImageFormat {
  return typeof value === 'string' && (IMAGE_FORMATS as readonly string[]).includes(value)
}

/** The `Content-Type` of a format. */
export function contentTypeOf(format: ImageFormat): string {
  if (!isImageFormat(format)) throw unsupportedFormat(format)
  return CONTENT_TYPES[format]
}

/**
 * Encodes interleaved 8-bit RGB (`width × height × 3` bytes, row-major) as `format`.
 * PNG uses our own deterministic encoder (`png.ts`, lossless); webp and jpeg use sharp (libvips), lossy
 * at `quality` (default 90), with no metadata written.
 */
export async function encodeImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  format: ImageFormat,
  { quality = 90 }: EncodeOptions = {},
): Promise<Buffer> {
  if (!isImageFormat(format)) throw unsupportedFormat(format)
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new Error('quality must be an integer in [1, 100]')
  }
  if (format === 'png') return encodePng(rgb, width, height)

  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`)
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(`rgb has ${rgb.length} bytes; ${width}×${height} RGB needs ${width * height * 3}`)
  }
  const image = sharp(rgb, { raw: { width, height, channels: 3 } })
  return format === 'webp' ? image.webp({ quality }).toBuffer() : image.jpeg({ quality }).toBuffer()
}

function unsupportedFormat(format: unknown): Error {
  return new Error(`unsupported image format ${JSON.stringify(format)}; expected one of ${IMAGE_FORMATS.join(', ')}`)
}
