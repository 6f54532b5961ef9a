import { describe, expect, it } from 'vitest'
import { ReplayGuard } from './replay-guard.ts'

const t0 = 1_800_000_000
const nonce = (i: number) => i.toString(16).padStart(32, '0')

describe('ReplayGuard', () => {
  it('admits a nonce once, and two different nonces each once', () => {
    const guard = new ReplayGuard({ windowSeconds: 300 })
    expect(guard.admit(nonce(1), t0, t0)).toBe('fresh')
    expect(guard.admit(nonce(2), t0, t0)).toBe('fresh')
    expect(guard.admit(nonce(1), t0, t0 + 10)).toBe('replayed')
    expect(guard.admit(nonce(2), t0, t0 + 300)).toBe('replayed')
    expect(guard.size).toBe(2)
  })

  it('keeps a nonce while its timestamp is inside the window, and drops it after', () => {
    const guard = new ReplayGuard({ windowSeconds: 300 })
    guard.admit(nonce(1), t0, t0)
    // A later arrival sweeps: at t0 + 300 the timestamp is still accepted, so the nonce stays.
    guard.admit(nonce(2), t0 + 300, t0 + 300)
    expect(guard.size).toBe(2)
    guard.admit(nonce(3), t0 + 301, t0 + 301)
    expect(guard.size).toBe(2)
    expect(guard.admit(nonce(2), t0 + 300, t0 + 301)).toBe('replayed')
  })

  it('keeps the nonce of a future timestamp until that timestamp leaves the window', () => {
    const guard = new ReplayGuard({ windowSeconds: 300 })
    guard.admit(nonce(1), t0 + 30, t0)
    guard.admit(nonce(2), t0 + 330, t0 + 330)
    expect(guard.admit(nonce(1), t0 + 30, t0 + 330)).toBe('replayed')
  })

  it('refuses new nonces at the cap instead of forgetting old ones, until they expire', () => {
    const guard = new ReplayGuard({ windowSeconds: 300, maxEntries: 3 })
    for (const i of [1, 2, 3]) expect(guard.admit(nonce(i), t0, t0)).toBe('fresh')
    expect(guard.admit(nonce(4), t0, t0 + 1)).toBe('full')
    expect(guard.size).toBe(3)
    // Still remembered: the cap never makes a replay pass.
    expect(guard.admit(nonce(1), t0, t0 + 1)).toBe('replayed')
    expect(guard.retryAfterSeconds(t0 + 1)).toBe(300)
    expect(guard.admit(nonce(4), t0, t0 + 301)).toBe('fresh')
    expect(guard.size).toBe(1)
  })

  it('at the cap, finds expired nonces behind a live one (timestamps arrive out of order)', () => {
    const guard = new ReplayGuard({ windowSeconds: 300, maxEntries: 3 })
    guard.admit(nonce(1), t0 + 30, t0) // 30 s ahead: expires last, but sits at the front
    guard.admit(nonce(2), t0, t0)
    guard.admit(nonce(3), t0, t0)
    expect(guard.admit(nonce(4), t0 + 301, t0 + 301)).toBe('fresh')
    expect(guard.size).toBe(2)
    expect(guard.admit(nonce(1), t0 + 30, t0 + 301)).toBe('replayed')
  })

  it('stays bounded under a long stream of requests', () => {
    const guard = new ReplayGuard({ windowSeconds: 300 })
    for (let i = 0; i < 20_000; i++) {
      const now = t0 + Math.floor(i / 10) // 10 requests a second for 2000 s
      expect(guard.admit(nonce(i), now, now)).toBe('fresh')
    }
    expect(guard.size).toBeLessThanOrEqual(10 * 302)
  })
})
