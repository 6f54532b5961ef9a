import { describe, expect, it } from 'vitest'
import { ClientGoneError, DeadlineError, QueueFullError, ShuttingDownError } from '../service/service-error.ts'
import { DynamicBatcher, type Job } from './dynamic-batcher.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A batcher whose "model" records the batches it ran and takes `ms` per batch. */
function recording(options: { maxBatchSize?: number; maxDelayMs?: number; maxQueuedImages?: number; ms?: number; fail?: boolean } = {}) {
  const batches: string[][] = []
  const batcher = new DynamicBatcher<string, string>({
    ...options,
    run: async (batch: Job<string, string>[]) => {
      batches.push(batch.map((j) => j.payload))
      await sleep(options.ms ?? 5)
      if (options.fail) throw new Error('model exploded')
      return batch.map((j) => `done:${j.payload}`)
    },
  })
  return { batcher, batches }
}

describe('DynamicBatcher', () => {
  it('batches concurrent jobs with the same key up to the size limit', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 4, maxDelayMs: 20 })
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((p) => batcher.enqueue('512|nasa', 1, p, { timeoutMs: 5000 })))
    expect(results).toEqual(['done:a', 'done:b', 'done:c', 'done:d', 'done:e'])
    expect(batches).toEqual([['a', 'b', 'c', 'd'], ['e']])
  })

  it('never mixes keys in one batch, and keeps arrival order across keys', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 4, maxDelayMs: 10 })
    await Promise.all([
      batcher.enqueue('k1', 1, 'a', { timeoutMs: 5000 }),
      batcher.enqueue('k2', 1, 'x', { timeoutMs: 5000 }),
      batcher.enqueue('k1', 1, 'b', { timeoutMs: 5000 }),
    ])
    expect(batches).toEqual([['a', 'b'], ['x']])
  })

  it('counts images, and runs a job larger than the limit on its own', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 2, maxDelayMs: 10 })
    await Promise.all([batcher.enqueue('k', 4, 'big', { timeoutMs: 5000 }), batcher.enqueue('k', 1, 'small', { timeoutMs: 5000 })])
    expect(batches).toEqual([['big'], ['small']])
  })

  it('waits at most maxDelayMs for company', async () => {
    const { batcher } = recording({ maxBatchSize: 8, maxDelayMs: 30, ms: 1 })
    const started = performance.now()
    await batcher.enqueue('k', 1, 'alone', { timeoutMs: 5000 })
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(25)
    expect(elapsed).toBeLessThan(500)
  })

  it('does not hold a job past its deadline to wait for company', async () => {
    const { batcher } = recording({ maxBatchSize: 8, maxDelayMs: 10_000, ms: 1 })
    const started = performance.now()
    await batcher.enqueue('k', 1, 'hurry', { timeoutMs: 100 })
    expect(performance.now() - started).toBeLessThan(100)
  })

  it('fails a job whose deadline passed while it queued behind a long batch', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 1, maxDelayMs: 0, ms: 80 })
    const first = batcher.enqueue('k', 1, 'slow', { timeoutMs: 5000 })
    const second = batcher.enqueue('k', 1, 'late', { timeoutMs: 20 })
    await expect(second).rejects.toBeInstanceOf(DeadlineError)
    await first
    expect(batches).toEqual([['slow']])
  })

  it('refuses work beyond the queue bound with a Retry-After from the measured rate', async () => {
    const { batcher } = recording({ maxBatchSize: 1, maxDelayMs: 0, maxQueuedImages: 2, ms: 50 })
    await batcher.enqueue('k', 1, 'warm', { timeoutMs: 5000 }) // measures ~20 images/s
    const accepted = [1, 2, 3].map((i) => batcher.enqueue('k', 1, `j${i}`, { timeoutMs: 5000 }))
    const refused = await batcher.enqueue('k', 1, 'overflow', { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(QueueFullError)
    expect((refused as QueueFullError).retryAfterSeconds).toBe(1)
    expect(await Promise.all(accepted)).toEqual(['done:j1', 'done:j2', 'done:j3'])
    expect(batcher.measuredImagesPerSecond).toBeGreaterThan(5)
    expect(batcher.measuredImagesPerSecond).toBeLessThan(25)
  })

  it('drops a queued job whose client went away, without running it', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 1, maxDelayMs: 0, ms: 40 })
    const controller = new AbortController()
    const first = batcher.enqueue('k', 1, 'running', { timeoutMs: 5000 })
    const gone = batcher.enqueue('k', 1, 'gone', { timeoutMs: 5000, signal: controller.signal })
    controller.abort()
    await expect(gone).rejects.toBeInstanceOf(ClientGoneError)
    await first
    await batcher.drain()
    expect(batches).toEqual([['running']])
  })

  it('rejects every job of a batch that failed', async () => {
    const { batcher } = recording({ maxBatchSize: 4, maxDelayMs: 5, fail: true })
    const results = await Promise.allSettled(['a', 'b'].map((p) => batcher.enqueue('k', 1, p, { timeoutMs: 5000 })))
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'))).toEqual(['model exploded', 'model exploded'])
  })

  it('drains queued and running work, then refuses new jobs', async () => {
    const { batcher } = recording({ maxBatchSize: 1, maxDelayMs: 50, ms: 20 })
    const jobs = ['a', 'b', 'c'].map((p) => batcher.enqueue('k', 1, p, { timeoutMs: 5000 }))
    await batcher.drain()
    expect(await Promise.all(jobs)).toEqual(['done:a', 'done:b', 'done:c'])
    await expect(batcher.enqueue('k', 1, 'late', { timeoutMs: 5000 })).rejects.toBeInstanceOf(ShuttingDownError)
    expect(batcher.inFlightJobs).toBe(0)
  })
})
