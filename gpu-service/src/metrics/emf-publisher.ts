import type { ServiceMetrics } from './service-metrics.ts'

/** The CloudWatch namespace the autoscaling policy reads (infra/). */
export const EMF_NAMESPACE = 'SNOOPI/GpuService'

export interface EmfPublisherOptions {
  metrics: ServiceMetrics
  /** Refreshes the gauges (queue depth, in flight) before each line. */
  refresh?: () => void
  environment: string
  /** Default 10 s: target tracking evaluates 1-minute periods. */
  intervalMs?: number
  write?: (line: string) => void
  now?: () => number
}

async function counterTotal(counter: ServiceMetrics['images'] | ServiceMetrics['errors'], labels?: Record<string, string>): Promise<number> {
  const { values } = await counter.get()
  const matches = (have: Record<string, string | number | undefined>) => !labels || Object.entries(labels).every(([k, l]) => have[k] === l)
  return values.filter((v) => matches(v.labels)).reduce((sum, v) => sum + v.value, 0)
}

/**
 * Writes CloudWatch Embedded Metric Format lines to stdout: CloudWatch Logs turns them into the
 * metrics `InFlightRequests` (queued + running in this task — the autoscaling signal),
 * `QueueDepthImages`, `ImagesGenerated` and `QueueFullErrors` (counts since the previous line), with
 * the dimension `Environment`. No agent or SDK call is needed in the task.
 */
export function startEmfPublisher({ metrics, refresh, environment, intervalMs = 10_000, write = (line) => process.stdout.write(`${line}\n`), now = Date.now }: EmfPublisherOptions): {
  publish: () => Promise<void>
  stop: () => void
} {
  let lastImages = 0
  let lastQueueFull = 0
  const publish = async () => {
    refresh?.()
    const [inFlight, queue, images, queueFull] = await Promise.all([
      metrics.inFlight.get(),
      metrics.queueImages.get(),
      counterTotal(metrics.images),
      counterTotal(metrics.errors, { kind: 'queue_full' }),
    ])
    const line = {
      _aws: {
        Timestamp: now(),
        CloudWatchMetrics: [
          {
            Namespace: EMF_NAMESPACE,
            Dimensions: [['Environment']],
            Metrics: ['InFlightRequests', 'QueueDepthImages', 'ImagesGenerated', 'QueueFullErrors'].map((Name) => ({ Name, Unit: 'Count' })),
          },
        ],
      },
      Environment: environment,
      InFlightRequests: inFlight.values[0]?.value ?? 0,
      QueueDepthImages: queue.values[0]?.value ?? 0,
      ImagesGenerated: images - lastImages,
      QueueFullErrors: queueFull - lastQueueFull,
    }
    lastImages = images
    lastQueueFull = queueFull
    write(JSON.stringify(line))
  }
  const timer = setInterval(() => void publish().catch((error: unknown) => console.error('EMF publish failed:', error)), intervalMs)
  timer.unref()
  return { publish, stop: () => clearInterval(timer) }
}
