/**
 * Runs `task` on every item, at most `limit` at once. On the first failure it starts no more tasks,
 * aborts the signal it hands them (so running downloads stop), waits for the running ones to settle
 * (nothing is still writing when the caller cleans up), and throws that first failure.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`)
  const controller = new AbortController()
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++] as T
      try {
        await task(item, controller.signal)
      } catch (error) {
        if (!failure) {
          failure = { error }
          controller.abort(error)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.error
}
