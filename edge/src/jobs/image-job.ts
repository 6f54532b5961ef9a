import { DurableObject } from 'cloudflare:workers'
import { accountStubById } from '../accounts/account-stub.ts'
import type { Admission } from '../accounts/admission.ts'
import type { JobAdmission } from '../accounts/key-account.ts'
import type { GenerationManifest } from '../cache/image-store.ts'
import { DEFAULT_JOB_RETRY_WINDOW_S, edgeConfig, type EdgeBindings } from '../config/edge-config.ts'
import type { ErrorType } from '../errors/api-error.ts'
import { publicBase, type CacheAnswer, type GenerationWork } from '../generation/generation-path.ts'
import { attemptDelivery, nextAttemptDelay } from '../webhooks/webhook-delivery.ts'
import { webhookRules } from '../webhooks/webhook-url.ts'
import { isFinished, renderJob, type JobView, type WebhookEventChoice, type WebhookEventType } from './job-record.ts'

/** A job's webhook: where, and which optional events (`job.failed` / `job.canceled` are always sent). */
export interface JobWebhook {
  url: string
  events: WebhookEventChoice[]
}

/** What the submitting route hands a new job. */
export interface NewJob {
  view: JobView
  work: GenerationWork
  webhook?: JobWebhook
  /** The submitting request's concurrency slot (given back if the job is refused). */
  slot?: string
}

/** A created job with the images quota after its charge (absent when it existed already), or the account's refusal (null: the key is gone). */
export type JobCreation = { ok: true; view: JobView; images?: Admission } | { ok: false; refusal: Exclude<JobAdmission, { ok: true }> | null }

/** What a consumer is told to do with a message: run the work (under `token`), wait, or drop it. */
export type Claim = { action: 'run'; token: string; work: GenerationWork } | { action: 'wait'; delaySeconds: number } | { action: 'drop'; why: string }

export type JobError = { type: ErrorType; code: string; message: string }

/** One webhook message of a job (its `webhook-id` is `id`), with its attempts. */
export interface Delivery {
  id: string
  type: WebhookEventType
  /** The job as it was when the event happened (rendered at each attempt, so every attempt sends the same body). */
  view: JobView
  attempts: number
  /** Epoch ms of the next attempt while `state` is pending. */
  nextAt: number
  state: 'pending' | 'delivered' | 'stopped' | 'exhausted'
  results: string[]
}

interface JobState {
  view: JobView
  work: GenerationWork
  webhook?: JobWebhook
  /** `pending` until the key's account admitted (and charged) it. */
  admission: 'pending' | 'done'
  /** The last version the key's account has stored. */
  synced: number
  /** While running: the claim's token and when it lapses (a consumer that died frees the job then). */
  lease?: { token: string; until: number }
  /** Epoch ms when the message the job waits for is due (enqueued: now; a retry: when it was asked for). */
  dueAt: number
  /** Epoch ms of the first 503 / connection failure in the current run of them. */
  unavailableSince?: number
  unavailableCount: number
}

const STATE = 'state'
const DELIVERY = 'delivery:'

/** A message that has not reached a consumer this long after it was due is sent again. */
export const WATCHDOG_MS = 30_000
/** How long after the GPU call's own deadline a claim lapses. */
const LEASE_MARGIN_MS = 15_000
/** The longest wait between two tries of an unavailable GPU tier. */
export const MAX_RETRY_DELAY_S = 60
/** How soon a failed push to the account, or a pending admission, is tried again. */
const SYNC_RETRY_MS = 5_000

/** Seconds before the next try after `count` 503s in a row (1, 2, 4 … 60), at least the tier's Retry-After. */
export function retryDelaySeconds(count: number, retryAfterSeconds: number): number {
  const backoff = 2 ** Math.max(0, count - 1)
  return Math.min(MAX_RETRY_DELAY_S, Math.max(1, Math.ceil(backoff), Math.ceil(retryAfterSeconds)))
}

/**
 * One per generation job (`JOBS.idFromName(job id)`): the job's source of truth. The queue carries
 * only the job's id; whatever a message asks, this object decides, so a message delivered twice (or
 * re-sent by the watchdog) runs the job once, completes it once and notifies once:
 *
 * - `claim()` gives the work to one consumer at a time (a lease), drops messages of finished jobs and
 *   of jobs another consumer is running, and sends early ones back to wait;
 * - the first finished state wins (`complete`, `fail`, `cancel`); later reports are ignored;
 * - every change bumps `version` and is pushed to the key's account, which settles the charge made at
 *   enqueue exactly once, when its first finished version arrives (kept for a `MISS`, refunded otherwise);
 * - webhook deliveries are created in the same write as the change they report, and attempted on the
 *   alarm until delivered, stopped (410) or out of attempts.
 *
 * The alarm also keeps the job alive while it is unfinished: when the message it waits for is
 * `WATCHDOG_MS` overdue (the queue dropped it: miniflare does on restart), or its consumer's lease
 * lapsed, it enqueues the job again.
 */
export class ImageJob extends DurableObject<EdgeBindings> {
  /** The clock (epoch ms); tests replace it through `runInDurableObject`. */
  clock: () => number = () => Date.now()
  #waiters = new Set<() => void>()

  /** Admits and stores a new job, enqueues it unless it is already finished (a cache hit). */
  async create(input: NewJob): Promise<JobCreation> {
    const existing = this.state()
    if (existing) return { ok: true, view: existing.view }
    const now = this.clock()
    const state: JobState = { view: input.view, work: input.work, admission: 'pending', synced: 0, dueAt: now, unavailableCount: 0 }
    if (input.webhook) state.webhook = input.webhook
    this.ctx.storage.kv.put(STATE, state)
    await this.ctx.storage.setAlarm(now + SYNC_RETRY_MS)

    const admission = await this.account(input.view).submitJob(input.view, input.slot)
    if (!admission || !admission.ok) {
      this.ctx.storage.kv.delete(STATE)
      await this.ctx.storage.deleteAlarm()
      return { ok: false, refusal: admission }
    }
    this.change((s) => {
      s.admission = 'done'
      s.synced = s.view.version
      if (isFinished(s.view.status)) this.addDelivery(s, 'job.completed')
    }, false)
    if (!isFinished(input.view.status)) await this.enqueue()
    await this.schedule()
    return { ok: true, view: this.view() as JobView, images: admission.images }
  }

  view(): JobView | null {
    return this.state()?.view ?? null
  }

  /** The job once it finished, or as it is after `ms` (the `Prefer: wait` of the submitting request). */
  async waitFor(ms: number): Promise<JobView | null> {
    const view = this.view()
    if (!view || isFinished(view.status) || ms <= 0) return view
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#waiters.add(done)
    })
    return this.view()
  }

  /** A consumer got a message for this job: what to do with it. */
  async claim(): Promise<Claim> {
    const state = this.state()
    if (!state) return { action: 'drop', why: 'no such job' }
    const now = this.clock()
    if (isFinished(state.view.status)) return { action: 'drop', why: `already ${state.view.status}` }
    if (state.admission !== 'done') return { action: 'wait', delaySeconds: Math.ceil(SYNC_RETRY_MS / 1000) }
    if (state.view.status === 'running' && state.lease && state.lease.until > now) return { action: 'drop', why: 'another consumer runs it' }
    if (state.dueAt > now + 1000) return { action: 'wait', delaySeconds: Math.ceil((state.dueAt - now) / 1000) }
    const config = edgeConfig(this.env)
    const leaseMs = (config.ok ? config.config.GPU_TIMEOUT_MS : 30_000) + LEASE_MARGIN_MS
    const token = crypto.randomUUID()
    const first = state.view.startedAt === undefined
    this.change((s) => {
      s.view.status = 'running'
      s.view.attempts++
      s.view.startedAt ??= Math.floor(now / 1000)
      s.lease = { token, until: now + leaseMs }
      if (first) this.addDelivery(s, 'job.started')
    })
    await this.afterChange()
    return { action: 'run', token, work: state.work }
  }

  /** The generation succeeded (the first finished state wins: a canceled job stays canceled). */
  async complete(result: { manifest: GenerationManifest; cache: CacheAnswer }): Promise<{ accepted: boolean }> {
    const state = this.state()
    if (!state || isFinished(state.view.status)) return { accepted: false }
    this.change((s) => {
      s.view.status = 'succeeded'
      s.view.finishedAt = Math.floor(this.clock() / 1000)
      s.view.manifest = result.manifest
      s.view.cache = result.cache
      delete s.lease
      this.addDelivery(s, 'job.completed')
    })
    await this.afterChange()
    return { accepted: true }
  }

  /**
   * The GPU tier answered 503 or could not be reached: back to `queued` and try again after the
   * backoff (at least its Retry-After) — or fail once `JOB_RETRY_WINDOW_S` has passed since the first
   * of these in a row. Only the consumer holding the claim may reschedule.
   */
  async unavailable(token: string, retryAfterSeconds: number, error: JobError): Promise<{ action: 'retry'; delaySeconds: number } | { action: 'done' }> {
    const state = this.state()
    if (!state || isFinished(state.view.status) || state.lease?.token !== token) return { action: 'done' }
    const now = this.clock()
    const since = state.unavailableSince ?? now
    const config = edgeConfig(this.env)
    const windowMs = (config.ok ? config.config.JOB_RETRY_WINDOW_S : DEFAULT_JOB_RETRY_WINDOW_S) * 1000
    if (now - since >= windowMs) {
      await this.fail(error)
      return { action: 'done' }
    }
    const delaySeconds = retryDelaySeconds(state.unavailableCount + 1, retryAfterSeconds)
    this.change((s) => {
      s.view.status = 'queued'
      s.unavailableSince = since
      s.unavailableCount++
      s.dueAt = now + delaySeconds * 1000
      delete s.lease
    })
    await this.afterChange()
    return { action: 'retry', delaySeconds }
  }

  /** The job failed for good (the GPU path's error, or the watchdog's): images refunded, `job.failed` sent. */
  async fail(error: JobError): Promise<{ accepted: boolean }> {
    const state = this.state()
    if (!state || isFinished(state.view.status)) return { accepted: false }
    this.change((s) => {
      s.view.status = 'failed'
      s.view.finishedAt = Math.floor(this.clock() / 1000)
      s.view.error = error
      delete s.lease
      this.addDelivery(s, 'job.failed')
    })
    await this.afterChange()
    return { accepted: true }
  }

  /**
   * Cancels a queued or running job: it never reaches the GPU tier after this (a running generation
   * finishes, but the job stays canceled and its images are refunded). Canceling a canceled job
   * answers it again; a succeeded or failed one is not cancelable.
   */
  async cancel(): Promise<{ ok: boolean; view: JobView } | null> {
    const state = this.state()
    if (!state) return null
    if (state.view.status === 'canceled') return { ok: true, view: state.view }
    if (isFinished(state.view.status)) return { ok: false, view: state.view }
    this.change((s) => {
      s.view.status = 'canceled'
      s.view.finishedAt = Math.floor(this.clock() / 1000)
      delete s.lease
      this.addDelivery(s, 'job.canceled')
    })
    await this.afterChange()
    return { ok: true, view: this.view() as JobView }
  }

  /** The webhook deliveries of this job, oldest first (for tests and support). */
  deliveries(): Delivery[] {
    return [...this.ctx.storage.kv.list<Delivery>({ prefix: DELIVERY })].map(([, d]) => d)
  }

  /** Pushes, re-enqueues and delivers whatever is due, then sets the next alarm. */
  override async alarm(): Promise<void> {
    const state = this.state()
    if (!state) return
    const now = this.clock()
    if (state.admission === 'pending') {
      const admission = await this.account(state.view).submitJob(state.view)
      if (!admission?.ok) {
        this.ctx.storage.kv.delete(STATE)
        return
      }
      this.change((s) => {
        s.admission = 'done'
        s.synced = s.view.version
      }, false)
    }
    await this.push()
    const current = this.state() as JobState
    if (!isFinished(current.view.status) && this.overdue(current, now)) {
      console.warn(`[job ${current.view.id}] its message is overdue (${current.view.status}); enqueueing it again`)
      this.change((s) => {
        if (s.view.status === 'running') s.view.status = 'queued'
        delete s.lease
        s.dueAt = Math.max(now, s.dueAt)
      })
      await this.push()
      await this.enqueue(Math.max(0, Math.ceil((current.dueAt - now) / 1000)))
    }
    const due = this.deliveries().filter((d) => d.state === 'pending' && d.nextAt <= now)
    // An attempt that throws (R2, the account) is already counted, and its next one scheduled.
    await Promise.all(due.map((d) => this.deliver(d).catch((error: unknown) => console.error(`[job ${current.view.id}] webhook ${d.id}:`, error))))
    await this.schedule()
  }

  private overdue(state: JobState, now: number): boolean {
    if (state.view.status === 'running' && state.lease) return state.lease.until <= now
    return now >= state.dueAt + WATCHDOG_MS
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const state = this.state()
    if (!state?.webhook) return
    const now = this.clock()
    const attempts = delivery.attempts + 1
    const delay = nextAttemptDelay(attempts)
    // Counted before the attempt: an attempt cut short by an eviction is not repeated at once.
    const pending: Delivery = { ...delivery, attempts, nextAt: delay === undefined ? now : now + delay * 1000 }
    this.ctx.storage.kv.put(DELIVERY + delivery.id, pending)
    const config = edgeConfig(this.env)
    if (!config.ok) return
    const baseUrl = publicBase(config.config, delivery.view.origin)
    const body = JSON.stringify({ type: delivery.type, data: await renderJob(delivery.view, { baseUrl, bucket: this.env.IMAGES }) })
    const result = await attemptDelivery({
      url: state.webhook.url,
      rules: webhookRules(config.config, [delivery.view.origin]),
      id: delivery.id,
      body,
      secrets: await this.account(state.view).webhookSecrets(),
      nowSeconds: Math.floor(now / 1000),
    })
    const outcome: Delivery['state'] = result.outcome === 'delivered' ? 'delivered' : result.outcome === 'gone' ? 'stopped' : delay === undefined ? 'exhausted' : 'pending'
    if (outcome !== 'delivered') console.warn(`[job ${state.view.id}] webhook ${delivery.id} attempt ${attempts}: ${result.detail}`)
    this.ctx.storage.kv.put(DELIVERY + delivery.id, { ...pending, state: outcome, results: [...delivery.results, result.detail].slice(-10) })
  }

  /** Sets the alarm to the next thing due: a push or admission retry, the watchdog, a delivery. */
  private async schedule(): Promise<void> {
    const state = this.state()
    if (!state) return
    const now = this.clock()
    const times: number[] = []
    if (state.admission === 'pending' || state.synced < state.view.version) times.push(now + SYNC_RETRY_MS)
    if (!isFinished(state.view.status)) times.push(state.view.status === 'running' && state.lease ? state.lease.until : state.dueAt + WATCHDOG_MS)
    for (const d of this.deliveries()) if (d.state === 'pending') times.push(d.nextAt)
    if (times.length === 0) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(Math.max(now, Math.min(...times)))
  }

  /** Pushes the current version to the key's account (a failure is retried on the alarm). */
  private async push(): Promise<void> {
    const state = this.state()
    if (!state || state.admission !== 'done' || state.synced >= state.view.version) return
    const version = state.view.version
    try {
      await this.account(state.view).updateJob(state.view)
    } catch (error) {
      console.warn(`[job ${state.view.id}] pushing version ${version} to its account failed (retried):`, error)
      return
    }
    const now = this.state()
    if (now && now.synced < version) {
      now.synced = version
      this.ctx.storage.kv.put(STATE, now)
    }
  }

  /** After a change: push it, wake `waitFor` callers once finished, and set the alarm. */
  private async afterChange(): Promise<void> {
    await this.push()
    if (isFinished(this.view()?.status ?? 'queued')) for (const wake of [...this.#waiters]) wake()
    await this.schedule()
  }

  private async enqueue(delaySeconds = 0): Promise<void> {
    const view = this.view()
    if (!view) return
    try {
      await this.env.JOB_QUEUE.send({ job: view.id }, delaySeconds > 0 ? { delaySeconds } : {})
    } catch (error) {
      // The watchdog sends it again once it is overdue.
      console.error(`[job ${view.id}] enqueueing failed:`, error)
    }
  }

  /** Applies `update` to the stored state in one synchronous step (bumping the version unless told not to). */
  private change(update: (state: JobState) => void, bump = true): void {
    const state = this.state()
    if (!state) return
    update(state)
    if (bump) state.view.version++
    this.ctx.storage.kv.put(STATE, state)
  }

  private addDelivery(state: JobState, type: WebhookEventType): void {
    if (!state.webhook) return
    const optional = { 'job.started': 'started', 'job.completed': 'completed' } as const
    const choice = optional[type as keyof typeof optional] as WebhookEventChoice | undefined
    if (choice && !state.webhook.events.includes(choice)) return
    const id = `msg_${state.view.id.slice(4)}_${type.slice(4)}`
    const delivery: Delivery = { id, type, view: { ...state.view }, attempts: 0, nextAt: this.clock(), state: 'pending', results: [] }
    this.ctx.storage.kv.put(DELIVERY + id, delivery)
  }

  private state(): JobState | undefined {
    return this.ctx.storage.kv.get<JobState>(STATE)
  }

  private account(view: JobView) {
    return accountStubById(this.env, view.account)
  }
}
