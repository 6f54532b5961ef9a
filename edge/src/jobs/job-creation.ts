import type { KeyCacheScope } from '../accounts/account-record.ts'
import type { GenerationRequest } from '../api/generation-schema.ts'
import type { CanonicalRequest } from '../cache/canonical-request.ts'
import type { EdgeBindings, EdgeConfig } from '../config/edge-config.ts'
import { cachedManifest, prepareGeneration } from '../generation/generation-path.ts'
import type { JobCreation, JobWebhook } from './image-job.ts'
import { jobStub } from './job-consumer.ts'
import type { JobView } from './job-record.ts'

/** A job to create: its request (as submitted, parsed and canonical), whose it is, and where its URLs point. */
export interface JobOrder {
  id: string
  /** The key account's Durable Object id. */
  account: string
  /** The generation request as submitted (the job's `request`, stored as JSON). */
  request: object
  body: GenerationRequest
  canonical: CanonicalRequest
  /** The key and cache scope its images are cached under. */
  scope: KeyCacheScope
  /** The origin its image URLs are on when PUBLIC_BASE_URL is not set. */
  origin: string
  /** Regenerate instead of answering from the cache. */
  force: boolean
  webhook?: JobWebhook
  /** The submission's concurrency slot, handed back by the job once it is recorded. */
  slot?: string
}

/**
 * Creates a job in its Durable Object, prepared exactly as the synchronous route prepares a
 * generation (cache keys, manifest lookup): a cache hit is a job that has succeeded already, free; a
 * miss is charged its images by the key's account (with the plan's cap on unfinished jobs) and
 * enqueued. `POST /v1/jobs` and the bots both submit through here; each answers the outcome (the
 * job, or the account's refusal) in its own way.
 */
export async function createJob(env: EdgeBindings, config: EdgeConfig, order: JobOrder): Promise<JobCreation> {
  const { canonical } = order
  const work = await prepareGeneration(config, canonical, order.scope, order.force)
  const stored = await cachedManifest(env.IMAGES, work)
  const created = Math.floor(Date.now() / 1000)
  const view: JobView = {
    id: order.id,
    account: order.account,
    version: 1,
    status: stored ? 'succeeded' : 'queued',
    created,
    model: canonical.model,
    request: JSON.stringify(order.request),
    responseFormat: order.body.response_format,
    revisedPrompt: canonical.prompt,
    n: canonical.n,
    origin: order.origin,
    charged: stored ? 0 : canonical.n,
    attempts: 0,
    ...(stored ? { cache: 'HIT' as const, manifest: stored, finishedAt: created } : {}),
  }
  return jobStub(env, order.id).create({ view, work, ...(order.webhook ? { webhook: order.webhook } : {}), ...(order.slot === undefined ? {} : { slot: order.slot }) })
}
