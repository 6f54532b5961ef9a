import { describe, expect, it } from 'vitest'
import { ImageStore, IMMUTABLE_CACHE_CONTROL, imageKey, manifestKey, type ImageToStore } from './image-store.ts'
import { IMAGES, randomHex, recordingBucket } from '../testing/buckets.ts'

function images(count: number): ImageToStore[] {
  return Array.from({ length: count }, (_, i) => ({
    id: randomHex(32),
    ext: 'png' as const,
    bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, i]),
    contentType: 'image/png',
    seed: 1000n + BigInt(i),
  }))
}

const header = { created: 1_764_000_000, model: 'snoopi-default', version: 'test-v1' }

describe('ImageStore', () => {
  it('stores images with their metadata and a manifest that lists them', async () => {
    const store = new ImageStore(IMAGES)
    const hash = randomHex(64)
    const batch = images(2)
    expect(await store.getManifest(hash)).toBeNull()

    const manifest = await store.putGeneration(hash, header, batch)
    expect(manifest).toEqual({
      ...header,
      images: batch.map((image) => ({ id: image.id, ext: 'png', seed: image.seed.toString(), content_type: 'image/png', bytes: 5 })),
    })
    expect(await store.getManifest(hash)).toEqual(manifest)
    expect(await store.hasAll(manifest)).toBe(true)

    const first = batch[0] as ImageToStore
    const object = await store.getImage(first.id, 'png')
    expect(object).not.toBeNull()
    expect(new Uint8Array(await (object as R2ObjectBody).arrayBuffer())).toEqual(first.bytes)
    expect(object?.httpMetadata).toEqual({ contentType: 'image/png', cacheControl: IMMUTABLE_CACHE_CONTROL })
    expect(object?.customMetadata).toEqual({ model: 'snoopi-default', version: 'test-v1', seed: '1000', created: '1764000000', request: hash })
    expect(object?.key).toBe(imageKey(first.id, 'png'))
  })

  it('writes the manifest last, after every image write has finished', async () => {
    const { bucket, calls } = recordingBucket()
    const hash = randomHex(64)
    await new ImageStore(bucket).putGeneration(hash, header, images(3))
    const manifestStart = calls.findIndex((call) => call.key === manifestKey(hash) && call.phase === 'start')
    const imageEnds = calls.flatMap((call, i) => (call.key.startsWith('images/') && call.phase === 'end' ? [i] : []))
    expect(imageEnds).toHaveLength(3)
    expect(manifestStart).toBeGreaterThan(Math.max(...imageEnds))
    expect(calls.filter((call) => call.method === 'put').map((call) => call.key).at(-1)).toBe(manifestKey(hash))
  })

  it('writes no manifest when an image write fails', async () => {
    const batch = images(3)
    const failing = imageKey((batch[1] as ImageToStore).id, 'png')
    const { bucket } = recordingBucket({ failPut: (key) => key === failing })
    const hash = randomHex(64)
    await expect(new ImageStore(bucket).putGeneration(hash, header, batch)).rejects.toThrow(/image write failed/)
    expect(await IMAGES.head(manifestKey(hash))).toBeNull()
    expect(await new ImageStore(IMAGES).getManifest(hash)).toBeNull()
  })

  it('reports a manifest whose images are gone', async () => {
    const store = new ImageStore(IMAGES)
    const hash = randomHex(64)
    const batch = images(2)
    const manifest = await store.putGeneration(hash, header, batch)
    await IMAGES.delete(imageKey((batch[0] as ImageToStore).id, 'png'))
    expect(await store.hasAll(manifest)).toBe(false)
  })

  it('treats an unreadable manifest as missing', async () => {
    const hash = randomHex(64)
    await IMAGES.put(manifestKey(hash), '{"created":"yesterday"')
    expect(await new ImageStore(IMAGES).getManifest(hash)).toBeNull()
  })

  it('refuses keys that are not a hash or an image id', async () => {
    const store = new ImageStore(IMAGES)
    await expect(store.getManifest('../secrets')).rejects.toThrow(/request hash/)
    await expect(store.getImage('../../etc/passwd', 'png')).rejects.toThrow(/image id/)
    await expect(store.putGeneration(randomHex(64), header, [{ ...(images(1)[0] as ImageToStore), id: 'ABC' }])).rejects.toThrow(/image id/)
  })
})
