import type { KeyAccountStub } from '../accounts/account-stub.ts'
import type { EdgeBindings, EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { publicBase } from '../generation/generation-path.ts'
import { createJob } from '../jobs/job-creation.ts'
import { randomBase62 } from '../keys/api-key.ts'
import { parseGeneration } from '../routes/generations.ts'
import { installName } from './bot-install.ts'
import type { BotJobs, Submission } from './bot-service.ts'
import { jobStoreStub } from './bot-service.ts'
import type { BotDeliveryMessage, BotJobRecord } from './bot-target.ts'

function refusalMessage(refusedBy: string | undefined, limit: number): string {
  if (refusedBy === 'concurrency') return 'This API key has too many images being drawn at once.'
  if (refusedBy === 'images') return `This API key's daily images (${limit}) are used up.`
  if (refusedBy === 'queue') return `This API key has ${limit} unfinished jobs, its plan's limit.`
  return `This API key's rate limit (${limit} a minute) is reached.`
}

/**
 * The job engine, as the bots use it: a bot command is an ordinary job of the key it is charged to
 * (the operator's `BOT_API_KEY`, or the user's linked key), admitted and charged exactly as
 * `POST /v1/jobs` would (the key's request bucket and concurrency, its images per day, its cap on
 * unfinished jobs), its `request` the parsed command. A cache hit is a job that has succeeded
 * already. The job's id is drawn before the answer (see bot-runner.ts), so creating it again after a
 * crash makes no second job.
 */
export function engineJobs(env: EdgeBindings, config: EdgeConfig): BotJobs {
  const base = publicBase(config, config.PUBLIC_BASE_URL ?? '')
  return {
    async submit({ id, payer, request }): Promise<Submission> {
      const entered = await payer.enter('images:generate')
      if (!entered) return { ok: false, keyGone: true, message: 'The API key does not work.' }
      if (!entered.admission) return { ok: false, message: 'This API key may not generate images (it lacks the images:generate scope).' }
      const admission = entered.admission
      if (!admission.allowed) {
        return { ok: false, retryAfterSeconds: admission.retryAfterSeconds, message: refusalMessage(admission.refusedBy, admission.limit), ...(admission.refusedBy === 'concurrency' ? { transient: true } : {}) }
      }
      try {
        return await create(env, config, base, payer, { keyId: entered.record.id, cacheScope: entered.record.cacheScope ?? 'shared' }, id, request, admission.slot)
      } finally {
        // The job holds no slot of the key's: the submission's is handed back (and its usage is the job's to count).
        if (admission.slot !== undefined) await payer.settle(admission.slot, undefined)
      }
    },
    async deliver(record, intake) {
      if (!env.BOT_DELIVERIES) throw new Error('bots: the BOT_DELIVERIES queue is not bound')
      // Recorded and watched first (durable): should the message be lost, the store's watchdog sends it again.
      const fresh = await jobStoreStub(env, record.platform, record.install).jobStarted(record, intake)
      if (fresh) await env.BOT_DELIVERIES.send({ install: installName(record.platform, record.install), job: record.id } satisfies BotDeliveryMessage)
    },
    async notify(event, text, intake, jobId) {
      const id = jobId ? `note_${jobId.slice(4)}` : `note_${randomBase62(24)}`
      await this.deliver({
        id,
        platform: event.platform,
        install: event.install,
        user: event.user.id,
        request: { prompt: '' },
        created: Date.now(),
        target: event.target,
        via: 'install',
        notice: text,
      }, intake)
    },
  }
}

async function create(
  env: EdgeBindings,
  config: EdgeConfig,
  base: string,
  payer: KeyAccountStub,
  scope: { keyId: string; cacheScope: 'shared' | 'private' },
  id: string,
  request: BotJobRecord['request'],
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
  const outcome = await createJob(env, config, {
    id,
    account: payer.id.toString(),
    request,
    body,
    canonical,
    scope,
    origin: base,
    force: false,
    ...(slot === undefined ? {} : { slot }),
  })
  if (!outcome.ok) {
    const refusal = outcome.refusal
    if (!refusal) return { ok: false, keyGone: true, message: 'The API key does not work.' }
    if (refusal.refusedBy === 'queue') return { ok: false, retryAfterSeconds: refusal.retryAfterSeconds, message: refusalMessage('queue', refusal.limit) }
    return { ok: false, retryAfterSeconds: refusal.images.retryAfterSeconds, message: refusalMessage('images', refusal.images.limit) }
  }
  const image = outcome.view.status === 'succeeded' ? outcome.view.manifest?.images[0] : undefined
  return image ? { ok: true, job: id, image: { url: `${base}/v1/images/${image.id}.${image.ext}`, seed: image.seed } } : { ok: true, job: id }
}
