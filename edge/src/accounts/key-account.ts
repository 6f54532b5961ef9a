import { DurableObject } from 'cloudflare:workers'
import type { EdgeBindings } from '../config/edge-config.ts'
import type { JobCounts, JobView } from '../jobs/job-record.ts'
import { rotate, signingSecrets, type WebhookSecrets } from '../webhooks/webhook-secret.ts'
import { AccountJobs } from './account-jobs.ts'
import { cacheScopeOf, sameCacheNamespace, type AccountRecord, type KeyCacheScope, type Scope } from './account-record.ts'
import { describeBucket, type Admission } from './admission.ts'
import { PLANS, type Plan } from './plans.ts'
import { fullBucket, refill, secondsUntil, take, wholeTokens, type BucketSpec, type BucketState } from './token-bucket.ts'

/** How long a concurrency slot lives without `release()`: a request that crashed frees its slot after this. */
export const SLOT_LEASE_MS = 5 * 60_000

export interface UsageCounters {
  images: number
  cacheHits: number
  cacheMisses: number
  requests: number
}

export interface UsageDelta {
  images?: number
  cacheHits?: number
  cacheMisses?: number
}

export interface UsageReport {
  keyId: string
  plan: AccountRecord['plan']
  limits: Plan
  /** Today is the UTC day `day` (YYYY-MM-DD). */
  today: UsageCounters & { day: string }
  total: UsageCounters
  inFlight: number
  remaining: { requests: number; images: number }
  /** This key's jobs by status. */
  jobs: JobCounts
}

/**
 * The answer to a job's admission (`submitJob`): admitted, with the images quota after its charge; or
 * refused because the key has `maxQueuedJobs` unfinished jobs (`queue`) or cannot pay (`images`, an
 * images refusal as `consumeImages` words it). A refusal undoes the request's admission, as an
 * images refusal of a generation does.
 */
export type JobAdmission =
  | { ok: true; images: Admission }
  | { ok: false; refusedBy: 'queue'; limit: number; retryAfterSeconds: number; images: Admission; requests?: Admission }
  | { ok: false; refusedBy: 'images'; images: Admission }

/** What `enter` and `enterHit` answer for a known, unrevoked key: its record, and its admission (null: it lacks the scope). */
export interface Entered {
  record: AccountRecord
  admission: Admission | null
}

/** How long a key over its job cap is told to wait (jobs take seconds; the cap frees as they finish). */
const QUEUE_FULL_RETRY_S = 5

// Storage keys (the SQLite-backed object's synchronous KV API). Every method below is synchronous from
// its first read to its last write, so calls never interleave and each one is atomic.
const RECORD = 'record'
const REQUEST_BUCKET = 'bucket:requests'
const IMAGE_BUCKET = 'bucket:images'
const SLOTS = 'slots'
const TODAY = 'usage:today'
const TOTAL = 'usage:total'
const WEBHOOK_SECRETS = 'webhook:secrets'

const DAY_SECONDS = 86_400
const ZERO: UsageCounters = { images: 0, cacheHits: 0, cacheMisses: 0, requests: 0 }

function requestSpec(plan: Plan): BucketSpec {
  return { capacity: plan.requestBurst, refillPerSecond: plan.requestsPerMinute / 60 }
}

function imageSpec(plan: Plan): BucketSpec {
  return { capacity: plan.imagesPerDay, refillPerSecond: plan.imagesPerDay / DAY_SECONDS }
}

function requestQuota(plan: Plan) {
  return { policy: 'requests', limit: plan.requestsPerMinute, windowSeconds: 60 } as const
}

function imageQuotaPolicy(plan: Plan) {
  return { policy: 'images', limit: plan.imagesPerDay, windowSeconds: DAY_SECONDS } as const
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

function count(value: number | undefined): number {
  return Number.isSafeInteger(value) && (value as number) > 0 ? (value as number) : 0
}

/**
 * One per API key, named by the key's hash (`KEY_ACCOUNTS.idFromName(keyHash(key))`), called over
 * Workers RPC. Holds the key's record, its token buckets (requests per minute with a burst, images per
 * day), its in-flight slots and its usage counters — all in durable storage, so an eviction or a
 * restart resets nothing.
 *
 * Authentication asks this object, never KV: a Durable Object is strongly consistent, so `revoke()`
 * takes effect on the very next request, everywhere.
 */
export class KeyAccount extends DurableObject<EdgeBindings> {
  /**
   * The clock (epoch ms). Tests replace it through `runInDurableObject` to move time; instance fields
   * are not exposed over RPC, so callers cannot.
   */
  clock: () => number = () => Date.now()

  /** Stores a new key's record with full buckets. Throws if this object already holds one. */
  create(record: AccountRecord): AccountRecord {
    const { kv } = this.ctx.storage
    if (kv.get(RECORD) !== undefined) throw new Error('key account already exists')
    const plan = PLANS[record.plan]
    const now = this.clock()
    this.ctx.storage.transactionSync(() => {
      kv.put(RECORD, record)
      kv.put(REQUEST_BUCKET, fullBucket(requestSpec(plan), now))
      kv.put(IMAGE_BUCKET, fullBucket(imageSpec(plan), now))
    })
    return record
  }

  /** The record, or null when there is none or the key is revoked. */
  authenticate(): AccountRecord | null {
    const record = this.ctx.storage.kv.get<AccountRecord>(RECORD)
    return record && record.revokedAt === undefined ? record : null
  }

  /** Revokes the key (idempotent: the first revocation time stays). Null when there is no record. */
  revoke(): AccountRecord | null {
    const record = this.ctx.storage.kv.get<AccountRecord>(RECORD)
    if (!record) return null
    if (record.revokedAt !== undefined) return record
    const revoked = { ...record, revokedAt: Math.floor(this.clock() / 1000) }
    this.ctx.storage.kv.put(RECORD, revoked)
    return revoked
  }

  /**
   * Admits one request: a token from the requests-per-minute bucket and a concurrency slot (leased for
   * `SLOT_LEASE_MS`). Both limits are checked before anything is written, so a refusal (by either)
   * leaves the bucket, the slots and the counters as they were. The answer also describes the images
   * quota, untouched. Null when the key is unknown or revoked.
   */
  admitRequest(): Admission | null {
    const record = this.authenticate()
    return record ? this.admit(record, 'request') : null
  }

  /**
   * Authentication, the scope check and admission in one call (one round trip on the hot path of
   * generation requests). A key without `scope` is not admitted, so it takes neither a token nor a slot.
   */
  enter(scope: Scope): Entered | null {
    const record = this.authenticate()
    if (!record) return null
    if (!record.scopes.includes(scope)) return { record, admission: null }
    return { record, admission: this.admit(record, 'request') }
  }

  /**
   * `enter` for a request the worker found already answered in the cache namespace `cache` (looked up
   * before this call, under the scope the worker last saw this key have): the whole of a cache hit's
   * account work in one call. When `cache` is this key's namespace, the request is admitted as a hit:
   * the same checks as any request (revocation, scope, a request token, the concurrency cap), no slot
   * taken, and the request and its hit counted in the same write, so nothing is left to settle. When it
   * is not (the worker's hint was wrong), this is `enter` exactly: the worker goes the miss path with the
   * slot it gets, and never serves what it found under the other namespace.
   */
  enterHit(scope: Scope, cache: KeyCacheScope): Entered | null {
    const record = this.authenticate()
    if (!record) return null
    if (!record.scopes.includes(scope)) return { record, admission: null }
    return { record, admission: this.admit(record, sameCacheNamespace(cacheScopeOf(record), cache) ? 'hit' : 'request') }
  }

  /** Hands a concurrency slot back. False when it was not held (already released or expired). */
  release(slot: string): boolean {
    const slots = this.liveSlots(this.clock())
    const held = Object.hasOwn(slots, slot)
    delete slots[slot]
    this.ctx.storage.kv.put(SLOTS, slots)
    return held
  }

  /**
   * Takes `n` images from the images-per-day bucket, all or nothing. Null when the key is unknown or
   * revoked. Asking for more than the daily quota is refused with the time until the bucket is full.
   *
   * `slot` is the admitted request's concurrency slot. An images refusal ends that request, so it
   * hands the slot back and gives back the request token it took, and un-counts the request: the
   * refusal leaves every bucket as it was before the request. The slot makes this happen once: a slot
   * already handed back gives nothing back.
   */
  consumeImages(n: number, slot?: string): Admission | null {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`consumeImages: n must be a positive integer, got ${n}`)
    const record = this.authenticate()
    if (!record) return null
    const plan = PLANS[record.plan]
    const spec = imageSpec(plan)
    const now = this.clock()
    const bucket = refill(this.bucket(IMAGE_BUCKET, spec, now), spec, now)
    const taken = take(bucket, n)
    if (!taken.taken) {
      const described = describeBucket(bucket, spec, imageQuotaPolicy(plan))
      const wait = secondsUntil(bucket, spec, Math.min(n, spec.capacity))
      const refusal: Admission = { allowed: false, refusedBy: 'images', retryAfterSeconds: Math.max(1, wait), ...described }
      const requests = slot === undefined ? null : this.undoAdmission(plan, slot, now)
      return requests ? { ...refusal, requests } : refusal
    }
    this.ctx.storage.kv.put(IMAGE_BUCKET, taken.state)
    return { allowed: true, retryAfterSeconds: 0, ...describeBucket(taken.state, spec, imageQuotaPolicy(plan)) }
  }

  /**
   * Gives back `n` images taken by `consumeImages` for a generation that then failed (the client got
   * an error, so its daily budget should not shrink). Never above the bucket's capacity, which makes
   * take-then-give-back exactly the same as never taking. Returns the images quota afterwards; null
   * when the key is unknown or revoked.
   */
  refundImages(n: number): Admission | null {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`refundImages: n must be a positive integer, got ${n}`)
    const record = this.authenticate()
    if (!record) return null
    const plan = PLANS[record.plan]
    const spec = imageSpec(plan)
    const now = this.clock()
    const bucket = refill(this.bucket(IMAGE_BUCKET, spec, now), spec, now)
    const refunded = { ...bucket, tokens: Math.min(spec.capacity, bucket.tokens + n) }
    this.ctx.storage.kv.put(IMAGE_BUCKET, refunded)
    return { allowed: true, retryAfterSeconds: 0, ...describeBucket(refunded, spec, imageQuotaPolicy(plan)) }
  }

  /** Adds served images and cache hits/misses to today's and the total counters. */
  recordUsage(delta: UsageDelta): void {
    this.count(this.clock(), { images: count(delta.images), cacheHits: count(delta.cacheHits), cacheMisses: count(delta.cacheMisses) })
  }

  /**
   * The end of an admitted request in one call (after the response, off its critical path): hands its
   * concurrency slot back and counts its usage. Either may be absent.
   */
  settle(slot: string | undefined, delta: UsageDelta | undefined): void {
    if (slot !== undefined) this.release(slot)
    if (delta !== undefined) this.recordUsage(delta)
  }

  /**
   * Admits a new job (once: a job admitted before answers as admitted again), atomically: refused
   * when the key already has `maxQueuedJobs` unfinished jobs; charged `view.charged` images (0 for a
   * job the cache answered); then its first version is stored (settled at once if it is finished).
   * `slot` is the submitting request's, given back on a refusal. Null when the key is unknown or revoked.
   */
  submitJob(view: JobView, slot?: string): JobAdmission | null {
    const record = this.authenticate()
    if (!record) return null
    const plan = PLANS[record.plan]
    const now = this.clock()
    const jobs = new AccountJobs(this.ctx.storage.kv)
    if (jobs.get(view.id)) return { ok: true, images: this.imageQuota(plan, now) }
    if (jobs.unfinished() >= plan.maxQueuedJobs) {
      const requests = slot === undefined ? null : this.undoAdmission(plan, slot, now)
      const refusal = { ok: false, refusedBy: 'queue', limit: plan.maxQueuedJobs, retryAfterSeconds: QUEUE_FULL_RETRY_S, images: this.imageQuota(plan, now) } as const
      return requests ? { ...refusal, requests } : refusal
    }
    let images = this.imageQuota(plan, now)
    if (view.charged > 0) {
      images = this.consumeImages(view.charged, slot) as Admission
      if (!images.allowed) return { ok: false, refusedBy: 'images', images }
    }
    this.ctx.storage.transactionSync(() => {
      jobs.recordCharge(view.id, view.charged)
      this.applyJob(jobs, view, plan, now)
    })
    return { ok: true, images }
  }

  /** Stores a newer version of one of this key's jobs; its first finished version settles its charge. */
  updateJob(view: JobView): void {
    const record = this.ctx.storage.kv.get<AccountRecord>(RECORD)
    if (!record) return
    const jobs = new AccountJobs(this.ctx.storage.kv)
    this.ctx.storage.transactionSync(() => this.applyJob(jobs, view, PLANS[record.plan], this.clock()))
  }

  /** This key's jobs, newest first (`after`: a job id, exclusive), with each queued job's position. */
  listJobs(limit: number, after?: string): { views: JobView[]; hasMore: boolean; positions: Record<string, number> } {
    const jobs = new AccountJobs(this.ctx.storage.kv)
    const listed = jobs.list(limit, after)
    const positions = Object.fromEntries(listed.views.filter((v) => v.status === 'queued').map((v) => [v.id, jobs.queuePosition(v.id)]))
    return { ...listed, positions }
  }

  /** A queued job's place among this key's queued jobs (1 = next). */
  queuePosition(id: string): number {
    return new AccountJobs(this.ctx.storage.kv).queuePosition(id)
  }

  /** Creates the key's webhook secret, or rotates it (the old one keeps signing for 24 h). Null when the key is unknown or revoked. */
  rotateWebhookSecret(): { secret: string; created: number } | null {
    if (!this.authenticate()) return null
    const next = rotate(this.ctx.storage.kv.get<WebhookSecrets>(WEBHOOK_SECRETS), this.clock())
    this.ctx.storage.kv.put(WEBHOOK_SECRETS, next)
    return { ...next.current }
  }

  /** The secrets that sign this key's webhooks now (none when it has none, or is unknown or revoked). */
  webhookSecrets(): string[] {
    if (!this.authenticate()) return []
    return signingSecrets(this.ctx.storage.kv.get<WebhookSecrets>(WEBHOOK_SECRETS), this.clock())
  }

  /** Today's and total counters, the plan's limits and what is left now. Null when there is no record. */
  usage(): UsageReport | null {
    const record = this.ctx.storage.kv.get<AccountRecord>(RECORD)
    if (!record) return null
    const plan = PLANS[record.plan]
    const now = this.clock()
    const requests = requestSpec(plan)
    const images = imageSpec(plan)
    return {
      keyId: record.id,
      plan: record.plan,
      limits: { ...plan },
      today: this.today(now),
      total: this.ctx.storage.kv.get<UsageCounters>(TOTAL) ?? { ...ZERO },
      inFlight: Object.keys(this.liveSlots(now)).length,
      jobs: new AccountJobs(this.ctx.storage.kv).counts(),
      remaining: {
        requests: wholeTokens(refill(this.bucket(REQUEST_BUCKET, requests, now), requests, now)),
        images: wholeTokens(refill(this.bucket(IMAGE_BUCKET, images, now), images, now)),
      },
    }
  }

  /** Stores a job version; a first finished one gives back what it does not keep and counts its usage. */
  private applyJob(jobs: AccountJobs, view: JobView, plan: Plan, now: number): void {
    const { settlement } = jobs.apply(view)
    if (!settlement) return
    if (settlement.refund > 0) {
      const spec = imageSpec(plan)
      const bucket = refill(this.bucket(IMAGE_BUCKET, spec, now), spec, now)
      this.ctx.storage.kv.put(IMAGE_BUCKET, { ...bucket, tokens: Math.min(spec.capacity, bucket.tokens + settlement.refund) })
    }
    const { images, cacheHits, cacheMisses } = settlement.usage
    this.count(now, { images: count(images), cacheHits: count(cacheHits), cacheMisses: count(cacheMisses) })
  }

  /**
   * The admission of a `request` (a token and a slot, the request counted) or of a cache `hit` (a token,
   * no slot, but refused like any request while the key has `maxConcurrent` in flight; the request and
   * its hit counted). Nothing is written on a refusal.
   */
  private admit(record: AccountRecord, kind: 'request' | 'hit'): Admission {
    const plan = PLANS[record.plan]
    const spec = requestSpec(plan)
    const now = this.clock()
    const bucket = refill(this.bucket(REQUEST_BUCKET, spec, now), spec, now)
    const slots = this.liveSlots(now)
    const images = this.imageQuota(plan, now)

    const taken = take(bucket, 1)
    if (!taken.taken) {
      const described = describeBucket(bucket, spec, requestQuota(plan))
      return { allowed: false, refusedBy: 'requests', retryAfterSeconds: Math.max(1, described.resetSeconds), ...described, images }
    }
    if (Object.keys(slots).length >= plan.maxConcurrent) {
      // How long the others run is unknown: suggest a short wait (leases bound the worst case).
      return { allowed: false, refusedBy: 'concurrency', retryAfterSeconds: 1, ...describeBucket(bucket, spec, requestQuota(plan)), images }
    }
    const described = describeBucket(taken.state, spec, requestQuota(plan))
    if (kind === 'hit') {
      this.ctx.storage.transactionSync(() => {
        this.ctx.storage.kv.put(REQUEST_BUCKET, taken.state)
        this.count(now, { requests: 1, cacheHits: 1 })
      })
      return { allowed: true, retryAfterSeconds: 0, cacheHit: true, ...described, images }
    }
    const slot = crypto.randomUUID()
    slots[slot] = now + SLOT_LEASE_MS
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.kv.put(REQUEST_BUCKET, taken.state)
      this.ctx.storage.kv.put(SLOTS, slots)
      this.count(now, { requests: 1 })
    })
    return { allowed: true, retryAfterSeconds: 0, slot, ...described, images }
  }

  /** The images quota as it stands at `now`, nothing taken. */
  private imageQuota(plan: Plan, now: number): Admission {
    const spec = imageSpec(plan)
    const bucket = refill(this.bucket(IMAGE_BUCKET, spec, now), spec, now)
    return { allowed: true, retryAfterSeconds: 0, ...describeBucket(bucket, spec, imageQuotaPolicy(plan)) }
  }

  /**
   * Undoes the admission that holds `slot`: frees the slot, returns its request token (capped, so
   * exactly as if it was never taken) and un-counts the request. Null when the slot is not held.
   */
  private undoAdmission(plan: Plan, slot: string, now: number): Admission | null {
    const slots = this.liveSlots(now)
    if (!Object.hasOwn(slots, slot)) return null
    delete slots[slot]
    const spec = requestSpec(plan)
    const bucket = refill(this.bucket(REQUEST_BUCKET, spec, now), spec, now)
    const restored = { ...bucket, tokens: Math.min(spec.capacity, bucket.tokens + 1) }
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.kv.put(REQUEST_BUCKET, restored)
      this.ctx.storage.kv.put(SLOTS, slots)
      this.count(now, { requests: -1 })
    })
    return { allowed: true, retryAfterSeconds: 0, ...describeBucket(restored, spec, requestQuota(plan)) }
  }

  private bucket(key: string, spec: BucketSpec, now: number): BucketState {
    return this.ctx.storage.kv.get<BucketState>(key) ?? fullBucket(spec, now)
  }

  /** Held slots whose lease has not run out (slot id → lease end, epoch ms). */
  private liveSlots(now: number): Record<string, number> {
    const slots = this.ctx.storage.kv.get<Record<string, number>>(SLOTS) ?? {}
    return Object.fromEntries(Object.entries(slots).filter(([, leaseEnd]) => leaseEnd > now))
  }

  private today(now: number): UsageCounters & { day: string } {
    const day = utcDay(now)
    const stored = this.ctx.storage.kv.get<UsageCounters & { day: string }>(TODAY)
    return stored?.day === day ? stored : { day, ...ZERO }
  }

  private count(now: number, delta: Partial<UsageCounters>): void {
    const today = this.today(now)
    const total = this.ctx.storage.kv.get<UsageCounters>(TOTAL) ?? { ...ZERO }
    for (const name of ['images', 'cacheHits', 'cacheMisses', 'requests'] as const) {
      // Un-counting (an undone admission) never goes below zero, e.g. across a UTC midnight.
      today[name] = Math.max(0, today[name] + (delta[name] ?? 0))
      total[name] = Math.max(0, total[name] + (delta[name] ?? 0))
    }
    this.ctx.storage.kv.put(TODAY, today)
    this.ctx.storage.kv.put(TOTAL, total)
  }
}
