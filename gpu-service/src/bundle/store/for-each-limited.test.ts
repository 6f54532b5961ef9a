import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { forEachLimited } from './for-each-limited.ts'

describe('forEachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0
    let peak = 0
    const done: number[] = []
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      running += 1
      peak = Math.max(peak, running)
      await sleep(item % 3)
      running -= 1
      done.push(item)
    })
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(peak).toBe(3)
  })

  it('on a failure starts nothing new, aborts the running ones, waits for them, and throws the first failure', async () => {
    const started: number[] = []
    let settled = 0
    const failure = forEachLimited([1, 2, 3, 4, 5], 2, async (item, signal) => {
      started.push(item)
      try {
        if (item === 1) throw new Error('item 1 broke')
        await sleep(10_000, undefined, { signal })
      } finally {
        settled += 1
      }
    })
    await expect(failure).rejects.toThrow('item 1 broke')
    expect(started).toEqual([1, 2])
    expect(settled).toBe(2)
  })

  it('refuses a limit below 1', async () => {
    await expect(forEachLimited([1], 0, () => Promise.resolve())).rejects.toThrow('concurrency must be a positive integer, got 0')
  })
})
