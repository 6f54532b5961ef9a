import { describe, expect, it } from 'vitest'
import { TextEmbeddingCache } from './text-embedding-cache.ts'

describe('TextEmbeddingCache', () => {
  it('evicts the least recently used prompt', () => {
    const cache = new TextEmbeddingCache(2)
    cache.set('a', new Float32Array([1]))
    cache.set('b', new Float32Array([2]))
    expect(cache.get('a')?.[0]).toBe(1) // a is now the most recent
    cache.set('c', new Float32Array([3]))
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')?.[0]).toBe(1)
    expect(cache.get('c')?.[0]).toBe(3)
    expect(cache.size).toBe(2)
    expect([cache.hits, cache.misses]).toEqual([3, 1])
  })

  it('stores nothing with capacity 0', () => {
    const cache = new TextEmbeddingCache(0)
    cache.set('a', new Float32Array([1]))
    expect(cache.get('a')).toBeUndefined()
  })
})
