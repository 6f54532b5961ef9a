import { describe, expect, it } from 'vitest'
import { IMAGES, randomHex, recordingBucket } from '../testing/buckets.ts'
import { ImageStore } from './image-store.ts'
import { ManifestMemo } from './manifest-memo.ts'

describe('ManifestMemo', () => {
  it('keeps the most recently used entries up to its capacity', () => {
    const memo = new ManifestMemo<number>(2)
    memo.set('a', 1)
    memo.set('b', 2)
    expect(memo.get('a')).toBe(1) // a is now the most recent
    memo.set('c', 3)
    expect([memo.get('a'), memo.get('b'), memo.get('c'), memo.size]).toEqual([1, undefined, 3, 2])
  })
})

describe('ImageStore with the isolate memo', () => {
  it('reads a manifest from R2 once, then answers from memory; never remembers absence', async () => {
    const { bucket, calls } = recordingBucket()
    const store = new ImageStore(bucket)
    const hash = randomHex(64)
    expect(await store.getManifest(hash)).toBeNull()
    await new ImageStore(IMAGES).putGeneration(hash, { created: 1, model: 'm', version: 'v' }, [{ id: randomHex(32), ext: 'png', bytes: new Uint8Array([1]), contentType: 'image/png', seed: 1n }])
    const first = await store.getManifest(hash)
    expect(first?.images).toHaveLength(1)
    const reads = calls.filter((call) => call.phase === 'start' && call.method === 'get').length
    expect(reads).toBe(2) // the miss, then the manifest
    expect(await new ImageStore(bucket).getManifest(hash)).toEqual(first)
    expect(calls.filter((call) => call.phase === 'start' && call.method === 'get').length).toBe(reads)
  })
})
