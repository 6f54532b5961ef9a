import { DynamicBatcher, type Job } from '../batching/dynamic-batcher.ts'
import type { ModelBundle } from '../bundle/load/model-bundle.ts'
import { batchKey, batchOf, type BatchRunner, type GeneratedImage, type StageTimings } from '../generation/batch.ts'
import type { GenerationRequest } from '../generation/generation-request.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import { GenerationFailedError, ServiceError } from './service-error.ts'

/** One request's images, in seed order. */
export interface GenerationResult {
  images: GeneratedImage[]
  /** The batch's stage timings plus this request's queue wait. */
  timings: StageTimings & { queue: number }
  /** Images in the batch this request ran in. */
  batchImages: number
}

export interface ImageServiceOptions {
  maxBatchSize?: number
  maxDelayMs?: number
  maxQueuedImages?: number
}

/**
 * Dynamic batching and metrics around a BatchRunner (the PipelineWorker in the service). It takes
 * requests already validated against the bundle (`validateGeneration`, at the HTTP route or the CLI):
 * requests of one size, guided graph and format join a batch (`batchOf`), the runner runs it, and
 * each request gets its own images back.
 */
export class ImageService {
  readonly batcher: DynamicBatcher<GenerationRequest, GenerationResult>
  private readonly runner: BatchRunner
  private readonly metrics: ServiceMetrics

  constructor(runner: BatchRunner, metrics: ServiceMetrics, options: ImageServiceOptions = {}) {
    this.runner = runner
    this.metrics = metrics
    this.batcher = new DynamicBatcher<GenerationRequest, GenerationResult>({ ...options, run: (jobs) => this.runBatch(jobs) })
    this.batcher.onBatch = ({ images }) => {
      metrics.batchSize.observe(images)
      metrics.imagesPerSecond.set(this.batcher.measuredImagesPerSecond)
    }
  }

  get bundle(): ModelBundle {
    return this.runner.bundle
  }

  /**
   * Queues a validated request and resolves with its images. Rejects with a ServiceError: the
   * batcher's refusals as they are, a failed pipeline run as GenerationFailedError.
   */
  async submit(request: GenerationRequest, { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<GenerationResult> {
    this.updateGauges()
    try {
      const result = await this.batcher.enqueue(batchKey(request), request.seeds.length, request, { timeoutMs, signal })
      this.metrics.images.inc(result.images.length)
      for (const [stage, ms] of [
        ['queue', result.timings.queue],
        ['tokenize', result.timings.tokenize],
        ['text_encoder', result.timings.textEncoder],
        ['unet', result.timings.unet],
        ['vae', result.timings.vae],
        ['encode', result.timings.encode],
        ['total', result.timings.total],
      ] as const) {
        this.metrics.observeStage(stage, ms)
      }
      return result
    } catch (error) {
      throw error instanceof ServiceError ? error : new GenerationFailedError(error)
    } finally {
      this.updateGauges()
    }
  }

  updateGauges(): void {
    this.metrics.queueImages.set(this.batcher.queuedImages)
    this.metrics.queueRequests.set(this.batcher.queuedJobs)
    this.metrics.inFlight.set(this.batcher.inFlightJobs)
  }

  private async runBatch(jobs: Job<GenerationRequest, GenerationResult>[]): Promise<GenerationResult[]> {
    const started = performance.now()
    this.updateGauges()
    const batch = batchOf(jobs.map((job) => job.payload))
    const result = await this.runner.run(batch)
    let offset = 0
    return jobs.map((job) => {
      const images = result.images.slice(offset, offset + job.images)
      offset += job.images
      const queue = started - job.enqueuedAt
      return { images, timings: { ...result.timings, queue, total: result.timings.total + queue }, batchImages: batch.rows.length }
    })
  }
}
