import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Stages timed per request (`snoopi_stage_seconds{stage=…}`). */
export const stages = ['queue', 'tokenize', 'text_encoder', 'unet', 'vae', 'encode', 'total'] as const
export type Stage = (typeof stages)[number]

/**
 * The service's Prometheus metrics (`GET /metrics`). `snoopi_in_flight_requests` — queued plus
 * running — is what the autoscaler scales on.
 */
export class ServiceMetrics {
  readonly registry = new Registry()
  readonly queueImages = new Gauge({ name: 'snoopi_queue_depth_images', help: 'Images waiting in the batching queue', registers: [this.registry] })
  readonly queueRequests = new Gauge({ name: 'snoopi_queue_depth_requests', help: 'Requests waiting in the batching queue', registers: [this.registry] })
  readonly inFlight = new Gauge({ name: 'snoopi_in_flight_requests', help: 'Requests queued or running (the autoscaling signal)', registers: [this.registry] })
  readonly batchSize = new Histogram({
    name: 'snoopi_batch_size_images',
    help: 'Images per UNet batch',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16],
    registers: [this.registry],
  })
  readonly stageSeconds = new Histogram({
    name: 'snoopi_stage_seconds',
    help: 'Time per request in each stage',
    labelNames: ['stage'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  })
  readonly images = new Counter({ name: 'snoopi_images_generated_total', help: 'Images generated', registers: [this.registry] })
  readonly errors = new Counter({ name: 'snoopi_errors_total', help: 'Failed requests by kind', labelNames: ['kind'], registers: [this.registry] })
  readonly imagesPerSecond = new Gauge({ name: 'snoopi_service_rate_images_per_second', help: 'Measured service rate (EWMA)', registers: [this.registry] })

  constructor({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'snoopi_process_' })
  }

  observeStage(stage: Stage, milliseconds: number): void {
    this.stageSeconds.observe({ stage }, milliseconds / 1000)
  }

  async text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
