import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fullBucket, refill, secondsUntil, take, wholeTokens, type BucketSpec } from './token-bucket.ts'

const perMinute10: BucketSpec = { capacity: 10, refillPerSecond: 10 / 60 }

describe('token bucket', () => {
  it('refills exactly from the elapsed time, capped at the capacity', () => {
    let bucket = fullBucket(perMinute10, 0)
    for (let i = 0; i < 10; i++) bucket = take(bucket, 1).state
    expect(take(bucket, 1).taken).toBe(false)
    expect(secondsUntil(bucket, perMinute10, 1)).toBe(6)
    expect(wholeTokens(refill(bucket, perMinute10, 5_999))).toBe(0)
    bucket = refill(bucket, perMinute10, 6_000)
    expect(wholeTokens(bucket)).toBe(1)
    expect(take(bucket, 1).taken).toBe(true)
    expect(refill(bucket, perMinute10, 3_600_000).tokens).toBe(10)
  })

  it('ignores a clock that goes backwards', () => {
    const bucket = { tokens: 2, updatedAt: 10_000 }
    expect(refill(bucket, perMinute10, 5_000)).toEqual(bucket)
  })

  it('never grants more than capacity + rate × elapsed time (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 600 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 5 })), { maxLength: 200 }),
        (capacity, perMinute, steps) => {
          const spec = { capacity, refillPerSecond: perMinute / 60 }
          let now = 0
          let bucket = fullBucket(spec, now)
          let granted = 0
          for (const [gap, n] of steps) {
            now += gap
            bucket = refill(bucket, spec, now)
            const before = wholeTokens(bucket)
            const result = take(bucket, n)
            expect(result.taken).toBe(before >= n)
            if (result.taken) granted += n
            bucket = result.state
            expect(bucket.tokens).toBeGreaterThanOrEqual(0)
            expect(bucket.tokens).toBeLessThanOrEqual(capacity)
          }
          expect(granted).toBeLessThanOrEqual(capacity + (now / 1000) * spec.refillPerSecond + 1e-6)
        },
      ),
    )
  })

  it('says how long until n tokens, Infinity beyond the capacity', () => {
    const empty = { tokens: 0, updatedAt: 0 }
    expect(secondsUntil(empty, perMinute10, 10)).toBe(60)
    expect(secondsUntil({ tokens: 0.5, updatedAt: 0 }, perMinute10, 1)).toBe(3)
    expect(secondsUntil(empty, perMinute10, 11)).toBe(Number.POSITIVE_INFINITY)
    expect(secondsUntil({ tokens: 10, updatedAt: 0 }, perMinute10, 10)).toBe(0)
  })
})
