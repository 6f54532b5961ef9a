import { ClientGoneError, DeadlineError, QueueFullError, ShuttingDownError } from '../service/service-error.ts'

/**
 * Dynamic batching with a bounded queue.
 *
 * Jobs (one request of one or more images) wait up to `maxDelayMs` for others with the same key
 * (size, guidance mode, format) so they run as one batch of at most `maxBatchSize` images; a job is
 * never held past its deadline, and one that is already past it is failed instead of run. One batch
 * runs at a time (the GPU is one device). When the queue holds `maxQueuedImages`, new jobs are
 * refused with a Retry-After computed from the measured service rate. Refusals are ServiceErrors
 * (service/service-error.ts): QueueFullError, ShuttingDownError, DeadlineError, ClientGoneError.
 */

export interface BatcherOptions<P, R> {
  /** Images per batch (default 4). A single job larger than this runs alone. */
  maxBatchSize?: number
  /** Longest wait for more jobs, ms (default 5). */
  maxDelayMs?: number
  /** Images waiting at most (default 64). */
  maxQueuedImages?: number
  /** Runs the jobs of one batch; returns one result per job, in order. */
  run: (jobs: Job<P, R>[]) => Promise<R[]>
  /** Initial guess of the service rate until one is measured (default 1 image/s). */
  initialImagesPerSecond?: number
  now?: () => number
}

export interface Job<P, R> {
  key: string
  images: number
  payload: P
  enqueuedAt: number
  deadline: number
  resolve: (result: R) => void
  reject: (error: Error) => void
  signal: AbortSignal | undefined
  onAbort?: () => void
}

export interface BatchObservation {
  images: number
  jobs: number
  seconds: number
}

export class DynamicBatcher<P, R> {
  private readonly queue: Job<P, R>[] = []
  private readonly options: Required<Omit<BatcherOptions<P, R>, 'run' | 'now'>> & Pick<BatcherOptions<P, R>, 'run'>
  private readonly now: () => number
  private running: Promise<void> | undefined
  private runningImages = 0
  private runningJobs = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private closed = false
  private imagesPerSecond: number
  private measured = false
  /** Called after each batch (for metrics). */
  onBatch: (observation: BatchObservation) => void = () => {}

  constructor(options: BatcherOptions<P, R>) {
    const { maxBatchSize = 4, maxDelayMs = 5, maxQueuedImages = 64, initialImagesPerSecond = 1 } = options
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new Error('maxBatchSize must be a positive integer')
    if (!(maxDelayMs >= 0)) throw new Error('maxDelayMs must be ≥ 0')
    if (!Number.isInteger(maxQueuedImages) || maxQueuedImages < 1) throw new Error('maxQueuedImages must be a positive integer')
    this.options = { maxBatchSize, maxDelayMs, maxQueuedImages, initialImagesPerSecond, run: options.run }
    this.now = options.now ?? (() => performance.now())
    this.imagesPerSecond = initialImagesPerSecond
  }

  get queuedImages(): number {
    return this.queue.reduce((n, job) => n + job.images, 0)
  }
  get queuedJobs(): number {
    return this.queue.length
  }
  /** Jobs queued or running: what the autoscaler tracks. */
  get inFlightJobs(): number {
    return this.queue.length + this.runningJobs
  }
  get measuredImagesPerSecond(): number {
    return this.imagesPerSecond
  }

  /** Seconds until the work ahead of a new job should be done, at the measured rate (≥ 1). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.queuedImages + this.runningImages) / this.imagesPerSecond))
  }

  /** Queues a job of `images` images; resolves with its result once the batch it joined has run. */
  enqueue(key: string, images: number, payload: P, { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<R> {
    if (this.closed) return Promise.reject(new ShuttingDownError('the service is shutting down'))
    if (signal?.aborted) return Promise.reject(new ClientGoneError('the client went away'))
    if (this.queuedImages + images > this.options.maxQueuedImages) return Promise.reject(new QueueFullError(this.retryAfterSeconds()))
    return new Promise<R>((resolve, reject) => {
      const now = this.now()
      const job: Job<P, R> = { key, images, payload, enqueuedAt: now, deadline: now + timeoutMs, resolve, reject, signal }
      if (signal) {
        job.onAbort = () => {
          const index = this.queue.indexOf(job)
          if (index >= 0) {
            this.queue.splice(index, 1)
            reject(new ClientGoneError('the client went away while queued'))
          }
        }
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.queue.push(job)
      this.schedule()
    })
  }

  /** Stops accepting jobs; resolves when everything queued or running has finished. */
  async drain(): Promise<void> {
    this.closed = true
    while (this.queue.length > 0 || this.running) {
      if (!this.running) this.dispatch()
      await this.running
    }
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return
    const oldest = this.queue[0] as Job<P, R>
    const now = this.now()
    const sameKey = this.queue.filter((j) => j.key === oldest.key).reduce((n, j) => n + j.images, 0)
    const expectedRunMs = (1000 * Math.min(sameKey, this.options.maxBatchSize)) / this.imagesPerSecond
    const waitLeft = Math.min(oldest.enqueuedAt + this.options.maxDelayMs - now, oldest.deadline - expectedRunMs - now)
    if (sameKey >= this.options.maxBatchSize || waitLeft <= 0 || this.closed) {
      this.dispatch()
      return
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        if (!this.running) this.dispatch()
      }, waitLeft)
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    const now = this.now()
    // Jobs already past their deadline are failed, not run.
    for (const job of [...this.queue]) {
      if (job.deadline <= now) {
        this.remove(job)
        job.reject(new DeadlineError('the request waited past its deadline'))
      }
    }
    const first = this.queue[0]
    if (!first) return
    const batch: Job<P, R>[] = []
    let images = 0
    for (const job of [...this.queue]) {
      if (job.key !== first.key) continue
      if (batch.length > 0 && images + job.images > this.options.maxBatchSize) continue
      batch.push(job)
      images += job.images
      this.remove(job)
      if (images >= this.options.maxBatchSize) break
    }
    this.runningImages = images
    this.runningJobs = batch.length
    this.running = this.execute(batch, images)
  }

  private async execute(batch: Job<P, R>[], images: number): Promise<void> {
    const started = this.now()
    let settle: () => void
    try {
      const results = await this.options.run(batch)
      const seconds = Math.max((this.now() - started) / 1000, 1e-6)
      // Exponentially weighted rate; the first measurement replaces the initial guess.
      const rate = images / seconds
      this.imagesPerSecond = this.measured ? 0.7 * this.imagesPerSecond + 0.3 * rate : rate
      this.measured = true
      this.onBatch({ images, jobs: batch.length, seconds })
      settle = () => batch.forEach((job, i) => job.resolve(results[i] as R))
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error))
      settle = () => batch.forEach((job) => job.reject(e))
    }
    // Free the device before the callers hear back, so work they submit next is scheduled normally.
    this.running = undefined
    this.runningImages = 0
    this.runningJobs = 0
    settle()
    this.schedule()
  }

  private remove(job: Job<P, R>): void {
    const index = this.queue.indexOf(job)
    if (index >= 0) this.queue.splice(index, 1)
    if (job.signal && job.onAbort) job.signal.removeEventListener('abort', job.onAbort)
  }
}
