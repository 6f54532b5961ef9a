import type { GenerationManifest } from '../cache/image-store.ts'
import type { ErrorType } from '../errors/api-error.ts'
import { imageData, type CacheAnswer, type ImageData } from '../generation/generation-path.ts'
import { randomBase62 } from '../keys/api-key.ts'

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]
export type JobCounts = Record<JobStatus, number>

/** The events a job's webhook may choose; `job.failed` and `job.canceled` are always sent. */
export const WEBHOOK_EVENTS = ['started', 'completed'] as const
export type WebhookEventChoice = (typeof WEBHOOK_EVENTS)[number]
export type WebhookEventType = 'job.started' | 'job.completed' | 'job.failed' | 'job.canceled'

/** A JSON value (what a submitted request can hold; RPC-serialisable, unlike `unknown`). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

export function isFinished(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled'
}

export function emptyCounts(): JobCounts {
  return { queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0 }
}

/**
 * Everything the public job is rendered from, as its Durable Object holds it and its key's account
 * keeps a copy of it (for listings, counts and settling the charge). Times are Unix seconds.
 * `version` grows with every change, so an older copy never overwrites a newer one.
 */
export interface JobView {
  id: string
  /** The owning key's account (its Durable Object id, `stub.id.toString()`). */
  account: string
  version: number
  status: JobStatus
  created: number
  model: string
  /** The generation request as submitted, without `webhook` / `webhook_events` (JSON text: RPC-friendly). */
  request: string
  responseFormat: 'url' | 'b64_json'
  revisedPrompt: string
  n: number
  /** The origin the job was submitted to: the base of URLs in webhooks when PUBLIC_BASE_URL is unset. */
  origin: string
  /** Images taken from the images/day quota at enqueue (0 for a job served from the cache). */
  charged: number
  /** Runs started on the GPU path (a retry after a 503 is another). */
  attempts: number
  startedAt?: number
  finishedAt?: number
  cache?: CacheAnswer
  manifest?: GenerationManifest
  error?: { type: ErrorType; code: string; message: string }
}

/** The job as the API returns it (and as webhooks carry it in `data`). */
export interface PublicJob {
  id: string
  object: 'image.job'
  status: JobStatus
  created: number
  model: string
  request: JsonObject
  queue_position?: number
  data?: ImageData[]
  error?: { type: ErrorType; code: string; message: string }
  cache?: CacheAnswer
  attempts: number
  started_at: number | null
  finished_at: number | null
  urls: { self: string; cancel: string }
}

/** `job_` + 12 hex digits of the creation time in ms + 20 random base62: ids sort by creation. */
export const JOB_ID_PATTERN = /^job_[0-9a-f]{12}[0-9A-Za-z]{20}$/

export function newJobId(now = Date.now()): string {
  return `job_${now.toString(16).padStart(12, '0')}${randomBase62(20)}`
}

export function isJobId(text: string): boolean {
  return JOB_ID_PATTERN.test(text)
}

/**
 * The public job: image data (URLs under `baseUrl`, or base64 read from R2) once it succeeded, the
 * error once it failed, and its own URLs.
 */
export async function renderJob(view: JobView, options: { baseUrl: string; bucket: R2Bucket; queuePosition?: number }): Promise<PublicJob> {
  const job: PublicJob = {
    id: view.id,
    object: 'image.job',
    status: view.status,
    created: view.created,
    model: view.model,
    request: JSON.parse(view.request) as JsonObject,
    attempts: view.attempts,
    started_at: view.startedAt ?? null,
    finished_at: view.finishedAt ?? null,
    urls: { self: `${options.baseUrl}/v1/jobs/${view.id}`, cancel: `${options.baseUrl}/v1/jobs/${view.id}/cancel` },
  }
  if (view.status === 'queued' && options.queuePosition !== undefined) job.queue_position = options.queuePosition
  if (view.status === 'succeeded' && view.manifest) {
    job.data = await imageData(options.bucket, view.manifest, { responseFormat: view.responseFormat, revisedPrompt: view.revisedPrompt, baseUrl: options.baseUrl })
    if (view.cache) job.cache = view.cache
  }
  if (view.error) job.error = view.error
  return job
}
