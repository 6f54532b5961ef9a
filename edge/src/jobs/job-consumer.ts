import type { EdgeBindings, JobMessage } from '../config/edge-config.ts'
import { cacheAnswer, runGeneration } from '../generation/generation-path.ts'
import type { ImageJob, JobError } from './image-job.ts'
import { isJobId } from './job-record.ts'

/** The job's Durable Object, typed for RPC. */
export function jobStub(env: Pick<EdgeBindings, 'JOBS'>, id: string): DurableObjectStub<ImageJob> {
  const namespace = env.JOBS as DurableObjectNamespace<ImageJob>
  return namespace.get(namespace.idFromName(id))
}

/** How soon a message whose handling threw (its job's object unreachable, say) is tried again. */
const ERROR_RETRY_S = 5

function retryAfterSeconds(headers: Record<string, string>): number {
  const value = Number(headers['retry-after'] ?? headers['Retry-After'] ?? 0)
  return Number.isFinite(value) && value > 0 ? value : 0
}

/**
 * One message of the jobs queue: the job's object says whether to run it (see `ImageJob.claim`);
 * the work goes through the same path as a synchronous request (`runGeneration`: the coordinator of
 * its request hash, so identical work from either path is generated once), as a prepaid payer.
 * A GPU 503 or connection failure retries the message after the job's backoff (`retry({delaySeconds})`),
 * any other failure fails the job; every message is acknowledged once its job has recorded the outcome.
 */
async function handle(message: Message<JobMessage>, env: EdgeBindings): Promise<void> {
  const id = message.body?.job
  if (typeof id !== 'string' || !isJobId(id)) {
    console.error(`jobs queue: dropping a message without a job id (${message.id})`)
    message.ack()
    return
  }
  const job = jobStub(env, id)
  try {
    const claim = await job.claim()
    if (claim.action === 'drop') {
      message.ack()
      return
    }
    if (claim.action === 'wait') {
      message.retry({ delaySeconds: claim.delaySeconds })
      return
    }
    const outcome = await runGeneration(env, claim.work, `job:${id}`, { prepaid: true })
    if (outcome.ok) {
      await job.complete({ manifest: outcome.manifest, cache: cacheAnswer(outcome) })
      message.ack()
      return
    }
    const error: JobError = { type: outcome.type, code: outcome.code, message: outcome.message }
    if (outcome.status === 503) {
      const next = await job.unavailable(claim.token, retryAfterSeconds(outcome.headers), error)
      if (next.action === 'retry') message.retry({ delaySeconds: next.delaySeconds })
      else message.ack()
      return
    }
    await job.fail(error)
    message.ack()
  } catch (error) {
    console.error(`jobs queue: handling job ${id} failed (retried in ${ERROR_RETRY_S} s):`, error)
    message.retry({ delaySeconds: ERROR_RETRY_S })
  }
}

/** A message the jobs queue gave up on (100 failed handlings): its job fails, refunded, with its webhook. */
async function deadLetter(message: Message<JobMessage>, env: EdgeBindings): Promise<void> {
  const id = message.body?.job
  if (typeof id === 'string' && isJobId(id)) {
    await jobStub(env, id).fail({ type: 'server_error', code: 'job_undeliverable', message: 'the job could not be processed' })
  }
  message.ack()
}

/** The worker's `queue()` handler: the jobs queue and its dead-letter queue (named `…-dlq`). */
export async function consumeJobs(batch: MessageBatch<JobMessage>, env: EdgeBindings): Promise<void> {
  const each = batch.queue.endsWith('-dlq') ? deadLetter : handle
  await Promise.all(batch.messages.map((message) => each(message, env)))
}
