import { describe, expect, it } from 'vitest'
import { ApiError } from '../errors/api-error.ts'
import { readGeneratedImages } from './generated-images.ts'

/** A multipart answer built the way the GPU service builds it. */
function answer(images: { seed: string; bytes: Uint8Array }[], meta?: object): Response {
  const form = new FormData()
  form.append('meta', new Blob([JSON.stringify(meta ?? { model: 'm', images: images.map((i) => ({ seed: i.seed, content_type: 'image/png', bytes: i.bytes.byteLength })) })], { type: 'application/json' }), 'meta.json')
  images.forEach((image, i) => form.append(`image-${i}`, new Blob([image.bytes], { type: 'image/png' }), `${i}.png`))
  return new Response(form)
}

describe('readGeneratedImages', () => {
  it('reads the images in order with their seeds', async () => {
    const images = await readGeneratedImages(answer([{ seed: '1', bytes: new Uint8Array([1, 2]) }, { seed: '2', bytes: new Uint8Array([3]) }]), 2)
    expect(images.map((i) => [i.seed, Array.from(i.bytes)])).toEqual([
      ['1', [1, 2]],
      ['2', [3]],
    ])
  })

  it.each([
    ['a JSON body', () => Response.json({ images: [] }), 1],
    ['the wrong image count', () => answer([{ seed: '1', bytes: new Uint8Array([1]) }]), 2],
    ['a size mismatch', () => answer([{ seed: '1', bytes: new Uint8Array([1]) }], { model: 'm', images: [{ seed: '1', content_type: 'image/png', bytes: 9 }] }), 1],
  ])('turns %s into a 502', async (_name, make, expected) => {
    const error = await readGeneratedImages(make(), expected).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(502)
  })
})
