import { Hono, type Context } from 'hono'
import { forcesRegeneration } from '../cache/forced-regeneration.ts'
import type { EdgeEnv } from '../edge-env.ts'
import { ApiError } from '../errors/api-error.ts'
import { publicBase } from '../generation/generation-path.ts'
import { apiKeyAuth, requireScope } from '../middleware/api-key-auth/index.ts'
import { reportImages } from '../middleware/rate-limit/index.ts'
import { jobStub } from './job-consumer.ts'
import { createJob } from './job-creation.ts'
import { isFinished, isJobId, newJobId, renderJob, type JobView } from './job-record.ts'
import { preferredWait } from './job-submission.ts'

const DEFAULT_LIMIT = 20
const MAX_LIMIT = 100

function keyGone(): ApiError {
  return new ApiError(401, { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided.', internal: 'key revoked mid-request' })
}

function notFound(id: string): ApiError {
  return new ApiError(404, { code: 'job_not_found', message: `no job ${id.slice(0, 64)} for this API key` })
}

/** The job as this request answers it: URLs on PUBLIC_BASE_URL or this request's origin, its queue position. */
async function answerJob(c: Context<EdgeEnv>, view: JobView, position?: number) {
  const baseUrl = publicBase(c.get('config'), new URL(c.req.url).origin)
  const queuePosition = view.status === 'queued' ? (position ?? (await c.get('account').stub.queuePosition(view.id))) : undefined
  return renderJob(view, { baseUrl, bucket: c.env.IMAGES, ...(queuePosition === undefined ? {} : { queuePosition }) })
}

/** The key's own job, or 404 (another key's job is not found either: its existence is not revealed). */
async function ownJob(c: Context<EdgeEnv>, id: string): Promise<JobView> {
  if (!isJobId(id)) throw notFound(id)
  const view = await jobStub(c.env, id).view()
  if (!view || view.account !== c.get('account').stub.id.toString()) throw notFound(id)
  return view
}

/**
 * The job routes. `POST /v1/jobs` (validated by `validateJob`, authenticated, admitted and
 * rate-limited before it, like the synchronous route; `Idempotency-Key` by `idempotency('jobs')`):
 * the generation is prepared exactly as the synchronous one (cache keys, manifest lookup); a cache
 * hit is a job that has succeeded already, free; a miss is charged its images now (by the key's
 * account, with the plan's cap on unfinished jobs) and enqueued. `Prefer: wait=N` holds the answer
 * until the job finishes or N s pass. Reading jobs needs `images:generate` and is not rate-limited.
 */
export const jobRoutes = new Hono<EdgeEnv>()
  .post('/v1/jobs', async (c) => {
    const account = c.get('account')
    const config = c.get('config')
    const canonical = c.get('canonical')
    const body = c.get('generation')
    const submission = c.get('jobSubmission')
    const wait = preferredWait(c.req.header('prefer'))
    if (wait !== undefined) c.header('Preference-Applied', `wait=${wait}`)

    const repeatId = c.get('idempotentRepeat') ? c.get('idempotentJobId') : undefined
    if (repeatId) {
      // A repeat while the first request is unanswered: the same job, as it stands.
      const view = await jobStub(c.env, repeatId).view()
      if (!view) throw new ApiError(409, { code: 'idempotency_key_in_flight', message: 'A request with this Idempotency-Key is still in progress; retry once it has been answered.' })
      c.header('Idempotent-Replayed', 'true')
      c.header('Location', `/v1/jobs/${view.id}`)
      return c.json(await answerJob(c, view), 202)
    }
    if (submission.webhook && (await account.stub.webhookSecrets()).length === 0) {
      throw new ApiError(400, { code: 'webhook_secret_missing', message: 'This API key has no webhook secret yet: create one with POST /v1/webhook-secret.' })
    }

    const id = c.get('idempotentJobId') ?? newJobId(Date.now())
    const slot = c.get('admission')?.slot
    const outcome = await createJob(c.env, config, {
      id,
      account: account.stub.id.toString(),
      request: submission.request,
      body,
      canonical,
      scope: account,
      origin: new URL(c.req.url).origin,
      force: forcesRegeneration(c.req.raw.headers),
      ...(submission.webhook ? { webhook: submission.webhook } : {}),
      ...(slot === undefined ? {} : { slot }),
    })
    if (!outcome.ok) {
      const refusal = outcome.refusal
      if (!refusal) throw keyGone()
      if (refusal.refusedBy === 'images') reportImages(c, refusal.images, canonical.n) // throws the 429
      if (refusal.refusedBy === 'queue') {
        reportImages(c, refusal.requests ? { ...refusal.images, requests: refusal.requests } : refusal.images, canonical.n)
        throw new ApiError(429, {
          type: 'rate_limit_error',
          code: 'queue_full',
          message: `This API key has ${refusal.limit} unfinished jobs, its plan's limit. Retry after ${refusal.retryAfterSeconds} s.`,
          headers: { 'Retry-After': String(refusal.retryAfterSeconds) },
        })
      }
      throw new ApiError(500, { code: 'internal_error', message: 'internal error', internal: 'unexpected job refusal' })
    }
    const images = outcome.images ?? c.get('admission')?.images
    if (images) reportImages(c, images, canonical.n)

    let current = outcome.view
    if (wait !== undefined && wait > 0 && !isFinished(current.status)) current = (await jobStub(c.env, id).waitFor(wait * 1000)) ?? current
    c.header('Location', `/v1/jobs/${id}`)
    return c.json(await answerJob(c, current), wait !== undefined && isFinished(current.status) ? 200 : 202)
  })
  .get('/v1/jobs', apiKeyAuth(), requireScope('images:generate'), async (c) => {
    const limitText = c.req.query('limit')
    const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ApiError(400, { code: 'invalid_request', message: `limit must be an integer from 1 to ${MAX_LIMIT}` })
    const after = c.req.query('after')
    if (after !== undefined && !isJobId(after)) throw new ApiError(400, { code: 'invalid_request', message: 'after must be a job id' })
    const listed = await c.get('account').stub.listJobs(limit, after)
    const data = await Promise.all(listed.views.map((view) => answerJob(c as unknown as Context<EdgeEnv>, view, listed.positions[view.id])))
    return c.json({ object: 'list', data, has_more: listed.hasMore })
  })
  .get('/v1/jobs/:id', apiKeyAuth(), requireScope('images:generate'), async (c) => {
    const ctx = c as unknown as Context<EdgeEnv>
    return c.json(await answerJob(ctx, await ownJob(ctx, c.req.param('id'))))
  })
  .post('/v1/jobs/:id/cancel', apiKeyAuth(), requireScope('images:generate'), async (c) => {
    const ctx = c as unknown as Context<EdgeEnv>
    const view = await ownJob(ctx, c.req.param('id'))
    const canceled = await jobStub(c.env, view.id).cancel()
    if (!canceled) throw notFound(view.id)
    if (!canceled.ok) throw new ApiError(409, { code: 'job_not_cancelable', message: `job ${view.id} has ${canceled.view.status}; only queued or running jobs can be canceled` })
    return c.json(await answerJob(ctx, canceled.view))
  })
  .post('/v1/webhook-secret', apiKeyAuth(), requireScope('images:generate'), async (c) => {
    const secret = await c.get('account').stub.rotateWebhookSecret()
    if (!secret) throw keyGone()
    return c.json(secret)
  })
