import { describe, expect, it } from 'vitest'
import { CacheScopeHints } from './cache-scope-hints.ts'

describe('CacheScopeHints', () => {
  it('remembers the latest scope per key, forgets on demand, and drops the least recently authenticated key past its capacity', () => {
    const hints = new CacheScopeHints(2)
    hints.learn('a', { keyId: 'key_A', cacheScope: 'shared' })
    hints.learn('b', { keyId: 'key_B', cacheScope: 'private' })
    hints.learn('a', { keyId: 'key_A', cacheScope: 'private' }) // a is the most recent now
    hints.learn('c', { keyId: 'key_C', cacheScope: 'shared' })
    expect([hints.get('a'), hints.get('b'), hints.get('c')]).toEqual([{ keyId: 'key_A', cacheScope: 'private' }, undefined, { keyId: 'key_C', cacheScope: 'shared' }])
    hints.forget('a')
    expect([hints.get('a'), hints.size]).toEqual([undefined, 1])
  })
})
