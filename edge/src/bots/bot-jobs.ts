import type { KeyAccountStub } from '../accounts/account-stub.ts'
import type { EdgeBindings, EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { cachedManifest, prepareGeneration, publicBase } from '../generation/generation-path.ts'
import { jobStub } from '../jobs/job-consumer.ts'
import { newJobId, type JobView } from '../jobs/job-record.ts'
import { parseGeneration } from '../routes/generations.ts'
import type { BotJobs, Submission } from './bot-service.ts'
import { installStub } from './bot-service.ts'
import type { BotDeliveryMessage, BotJobRecord } from './bot-target.ts'

function refusalMessage(refusedBy: string | undefined, limit: number): string {
  if (refusedBy === 'concurrency') return 'Too many images are being drawn on this API key at once.'
  if (refusedBy === 'images') return `This API key's daily images (${limit}) are used up.`
  if (refusedBy === 'queue') return `This API key has ${limit} unfinished jobs, its plan's limit.`
  return `This API key's rate limit (${limit} a minute) is reached.`
}

/**
 * The job engine, as the bots use it: a bot command is an ordinary job of the key it is charged to
 * (the operator's `BOT_API_KEY`, or the user's linked key), admitted and charged exactly as
 * `POST /v1/jobs` would (the key's request bucket and concurrency, its images per day, its cap on
 * unfinished jobs), its `request` the parsed command. A cache hit is a job that has succeeded
 * already. The install records the job (where to deliver it, its request for the buttons) before the
 * job exists, so no finish can come before its record.
 */
export function engineJobs(env: EdgeBindings, config: EdgeConfig): BotJobs {
  const base = publicBase(config, config.PUBLIC_BASE_URL ?? '')
  return {
    async submit({ payer, request, record }): Promise<Submission> {
      const entered = await payer.enter('images:generate')
      if (!entered) return { ok: false, keyGone: true, message: 'The API key does not work.' }
      if (!entered.admission) return { ok: false, message: 'This API key may not generate images (it lacks the images:generate scope).' }
      const admission = entered.admission
      if (!admission.allowed) return { ok: false, retryAfterSeconds: admission.retryAfterSeconds, message: refusalMessage(admission.refusedBy, admission.limit) }
      try {
        return await create(env, config, base, payer, { keyId: entered.record.id, cacheScope: entered.record.cacheScope ?? 'shared' }, request, record, admission.slot)
      } finally {
        // The job holds no slot of the key's: the submission's is handed back (and its usage is the job's to count).
        if (admission.slot !== undefined) await payer.settle(admission.slot, undefined)
      }
    },
    async deliver(platform, install, job) {
      if (!env.BOT_DELIVERIES) throw new Error('bots: the BOT_DELIVERIES queue is not bound')
      await env.BOT_DELIVERIES.send({ install: `${platform}:${install}`, job } satisfies BotDeliveryMessage)
    },
  }
}

async function create(
  env: EdgeBindings,
  config: EdgeConfig,
  base: string,
  payer: KeyAccountStub,
  scope: { keyId: string; cacheScope: 'shared' | 'private' },
  request: BotJobRecord['request'],
  record: Omit<BotJobRecord, 'id' | 'request'>,
  slot: string | undefined,
): Promise<Submission> {
  let parsed: ReturnType<typeof parseGeneration>
  try {
    parsed = parseGeneration(request, config)
  } catch (error) {
    if (error instanceof ApiError) return { ok: false, message: error.message }
    throw error
  }
  const { body, canonical } = parsed
  const work = await prepareGeneration(config, canonical, scope, false)
  const stored = await cachedManifest(env.IMAGES, work)
  const now = Date.now()
  const id = newJobId(now)
  const created = Math.floor(now / 1000)
  const view: JobView = {
    id,
    account: payer.id.toString(),
    version: 1,
    status: stored ? 'succeeded' : 'queued',
    created,
    model: canonical.model,
    request: JSON.stringify(request),
    responseFormat: body.response_format,
    revisedPrompt: canonical.prompt,
    n: canonical.n,
    origin: base,
    charged: stored ? 0 : canonical.n,
    attempts: 0,
    ...(stored ? { cache: 'HIT' as const, manifest: stored, finishedAt: created } : {}),
  }
  const install = installStub(env, record.platform, record.install)
  await install.recordJob({ ...record, id, request })
  const outcome = await jobStub(env, id).create({ view, work, ...(slot === undefined ? {} : { slot }) })
  if (!outcome.ok) {
    const refusal = outcome.refusal
    if (!refusal) return { ok: false, keyGone: true, message: 'The API key does not work.' }
    if (refusal.refusedBy === 'queue') return { ok: false, retryAfterSeconds: refusal.retryAfterSeconds, message: refusalMessage('queue', refusal.limit) }
    return { ok: false, retryAfterSeconds: refusal.images.retryAfterSeconds, message: refusalMessage('images', refusal.images.limit) }
  }
  const image = outcome.view.status === 'succeeded' ? outcome.view.manifest?.images[0] : undefined
  return image ? { ok: true, job: id, image: { url: `${base}/v1/images/${image.id}.${image.ext}`, seed: image.seed } } : { ok: true, job: id }
}
