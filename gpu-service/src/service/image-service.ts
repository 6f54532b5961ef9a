import type { ModelBundle } from '../bundle/model-bundle.ts'
import { DynamicBatcher, type Job } from '../batching/dynamic-batcher.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import { validateRequest, type GenerateRequest, type GuidanceSpec, type OutputFormat, type ValidRequest } from '../pipeline/generate-request.ts'
import type { GenerateResult, GeneratedImage, StageTimings } from '../pipeline/one-step-pipeline.ts'
import type { ImageSize } from '../bundle/model-bundle.ts'

/** What runs a pipeline call: the PipelineWorker in the service, the pipeline itself in tests/benchmarks. */
export interface ImageGenerator {
  readonly bundle: ModelBundle
  generate(request: GenerateRequest): Promise<GenerateResult>
}

/** One HTTP request's worth of images. */
export interface ImageJobRequest {
  prompt: string
  negativePrompt?: string | undefined
  n: number
  seed: bigint
  size?: ImageSize | undefined
  outputFormat?: OutputFormat | undefined
  guidance?: GuidanceSpec | undefined
}

export interface ImageJobResult {
  images: GeneratedImage[]
  /** The batch's stage timings plus this request's queue wait. */
  timings: StageTimings & { queue: number }
  batchImages: number
}

export interface ImageServiceOptions {
  maxBatchSize?: number
  maxDelayMs?: number
  maxQueuedImages?: number
}

interface Payload {
  valid: ValidRequest
  request: ImageJobRequest
}

/**
 * Validation, dynamic batching and metrics around an ImageGenerator. Requests are validated against
 * the bundle before they queue (bad input never waits); a batch concatenates its requests' rows,
 * with per-row negative prompts and guidance, and splits the images back.
 */
export class ImageService {
  readonly batcher: DynamicBatcher<Payload, ImageJobResult>
  private readonly generator: ImageGenerator
  private readonly metrics: ServiceMetrics

  constructor(generator: ImageGenerator, metrics: ServiceMetrics, options: ImageServiceOptions = {}) {
    this.generator = generator
    this.metrics = metrics
    this.batcher = new DynamicBatcher<Payload, ImageJobResult>({ ...options, run: (batch) => this.runBatch(batch) })
    this.batcher.onBatch = ({ images }) => {
      metrics.batchSize.observe(images)
      metrics.imagesPerSecond.set(this.batcher.measuredImagesPerSecond)
    }
  }

  get bundle(): ModelBundle {
    return this.generator.bundle
  }

  /** Checks a request against the bundle; throws PipelineInputError (a 400). */
  validate(request: ImageJobRequest): ValidRequest {
    return validateRequest(this.generator.bundle, {
      prompts: Array.from({ length: request.n }, () => request.prompt),
      seeds: Array.from({ length: request.n }, (_, i) => request.seed + BigInt(i)),
      negativePrompts: Array.from({ length: request.n }, () => request.negativePrompt),
      guidance: request.guidance,
      size: request.size,
      outputFormat: request.outputFormat,
    })
  }

  async generate(request: ImageJobRequest, { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal }): Promise<ImageJobResult> {
    const valid = this.validate(request)
    const key = `${valid.size.width}x${valid.size.height}|${valid.mode}|${valid.outputFormat}`
    this.updateGauges()
    try {
      const result = await this.batcher.submit(key, request.n, { valid, request }, { timeoutMs, signal })
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
    } finally {
      this.updateGauges()
    }
  }

  updateGauges(): void {
    this.metrics.queueImages.set(this.batcher.queuedImages)
    this.metrics.queueRequests.set(this.batcher.queuedJobs)
    this.metrics.inFlight.set(this.batcher.inFlightJobs)
  }

  private async runBatch(batch: Job<Payload, ImageJobResult>[]): Promise<ImageJobResult[]> {
    const started = performance.now()
    this.updateGauges()
    const rows = batch.flatMap((job) => job.payload.valid.rows.map((row, i) => ({ row, prompt: job.payload.valid.prompts[i] as string, seed: job.payload.valid.seeds[i] as bigint })))
    const first = batch[0]?.payload.valid as ValidRequest
    const result = await this.generator.generate({
      prompts: rows.map((r) => r.prompt),
      seeds: rows.map((r) => r.seed),
      negativePrompts: rows.map((r) => r.row.negative),
      guidance: rows.map((r) => ({ ...r.row.guidance })),
      size: first.size,
      outputFormat: first.outputFormat,
    })
    let offset = 0
    return batch.map((job) => {
      const images = result.images.slice(offset, offset + job.images)
      offset += job.images
      const queue = started - job.enqueuedAt
      return { images, timings: { ...result.timings, queue, total: result.timings.total + queue }, batchImages: rows.length }
    })
  }
}
