import { describe, expect, it } from 'vitest'
import { EMF_NAMESPACE, startEmfPublisher } from './emf-publisher.ts'
import { ServiceMetrics } from './service-metrics.ts'

describe('startEmfPublisher', () => {
  it('writes Embedded Metric Format lines with gauges and per-interval counts', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false })
    const lines: string[] = []
    const publisher = startEmfPublisher({ metrics, environment: 'staging', intervalMs: 60_000, write: (l) => lines.push(l), now: () => 1_700_000_000_000 })
    try {
      metrics.inFlight.set(3)
      metrics.queueImages.set(5)
      metrics.images.inc(7)
      metrics.errors.inc({ kind: 'queue_full' }, 2)
      metrics.errors.inc({ kind: 'bad_request' }, 9)
      await publisher.publish()
      metrics.images.inc(1)
      await publisher.publish()
    } finally {
      publisher.stop()
    }
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } })
    expect(first!._aws.Timestamp).toBe(1_700_000_000_000)
    expect(first!._aws.CloudWatchMetrics[0]!.Namespace).toBe(EMF_NAMESPACE)
    expect(first!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Environment']])
    expect(first!._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)).toEqual(['InFlightRequests', 'QueueDepthImages', 'ImagesGenerated', 'QueueFullErrors'])
    expect(first).toMatchObject({ Environment: 'staging', InFlightRequests: 3, QueueDepthImages: 5, ImagesGenerated: 7, QueueFullErrors: 2 })
    expect(second).toMatchObject({ ImagesGenerated: 1, QueueFullErrors: 0 })
  })
})
