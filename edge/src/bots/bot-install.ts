import { DurableObject } from 'cloudflare:workers'
import { refill, secondsUntil, take, wholeTokens, type BucketSpec, type BucketState } from '../accounts/token-bucket.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import type { BotEvent } from './bot-command.ts'
import type { UserRate } from './bot-settings.ts'
import type { BotJobRecord, BotLink, StoredAnswer } from './bot-target.ts'

/** How long an event id is remembered for deduplication (platforms retry within minutes; a day is plenty). */
export const EVENT_MEMORY_MS = 24 * 3_600_000
/** How long an unlinked user's job holds its install slot at most (a job that never reports back frees it after this). */
export const INSTALL_SLOT_LEASE_MS = 15 * 60_000
/**
 * A pending delivery whose message has not been handled for this long (beyond any retry delay it
 * asked for) is sent again: the queue is not assumed durable (miniflare drops messages on restart), so
 * a lost message delays a delivery, never loses it.
 */
export const DELIVERY_WATCHDOG_MS = 90_000
/**
 * A generation answered at once but not known to be a job this long after (its start message was
 * lost, or the start failed) is started again from its intake record.
 */
export const INTAKE_WATCHDOG_MS = 30_000
/**
 * How soon after its answer a generation's start is sent (by the front's alarm, in one batch with the
 * others answered meanwhile): a burst of commands is answered before the work it starts competes
 * with the answers, and one queue batch carries many starts.
 */
export const INTAKE_START_DELAY_MS = 250
/** The most messages one `sendBatch` carries (Cloudflare Queues' limit). */
const SEND_BATCH_MAX = 100

/** A bot job's delivery: attempts made, `response_url` uses spent (Slack), and how it ended. */
export interface DeliveryState {
  state: 'pending' | 'delivered' | 'dead'
  attempts: number
  uses: number
  /** The last few attempts' results, newest last (for support). */
  results: string[]
}

/** What `enter` decided for an event. */
export type Entry =
  /** Seen before: replay `answer` (null while the first is still being answered) and start nothing. */
  | { kind: 'duplicate'; answer: StoredAnswer | null }
  /** New; the user is linked to `link` (whose key's limits apply), or not (`link: null`) when nothing was admitted. */
  | { kind: 'new'; link: BotLink | null }
  /** New, an unlinked user's generation: admitted under the install's limits, holding `slot`. */
  | { kind: 'admitted'; slot: string }
  /** New, refused by the user's token bucket or the install's concurrency cap. */
  | { kind: 'refused'; refusedBy: 'user_rate' | 'install_concurrency'; retryAfterSeconds: number }

/** A generation answered at once and started after the answer: what starting it (again) needs. */
export interface IntakeRecord {
  event: BotEvent
  /** The job's id, drawn before the answer: starting the same intake twice makes one job. */
  jobId: string
  /** The origin of the image URLs (PUBLIC_BASE_URL) as the answering request saw it. */
  baseUrl: string
  /** The job a button (or a "Without…" answer) refers to: its request and seed are the new job's start. */
  base?: BotJobRecord
}

/** An intake as stored: its record and the admission `enter` made for it. */
export interface StoredIntake extends IntakeRecord {
  entry: Extract<Entry, { kind: 'new' | 'admitted' }>
}

export interface EnterInput {
  /** The platform's event id (Discord interaction id, Slack trigger id, Telegram update id). */
  event: string
  user: string
  /** Admit a generation: a linked user's goes to their key; an unlinked user's spends the user's bucket and an install slot. */
  admit: boolean
  rate: UserRate
  concurrency: number
  /** The answer the event gets unless it is refused (stored with it, for its duplicates). */
  answer?: StoredAnswer
  /** A generation to start after the answer: kept until `intakeDone`, started again by the alarm if it goes quiet. */
  intake?: IntakeRecord
}

export interface UserQuota {
  link: BotLink | null
  /** Whole generations the user's bucket holds now (unlinked users). */
  tokens: number
  burst: number
  /** Seconds until the next one (0 when one is there). */
  nextInSeconds: number
  inFlight: number
  concurrency: number
}

function bucketSpec(rate: UserRate): BucketSpec {
  return { capacity: rate.burst, refillPerSecond: rate.count / rate.periodSeconds }
}

/** The name of an install's front object, and of its job store (the same class, another instance). */
export function installName(platform: string, install: string): string {
  return `${platform}:${install}`
}
export function jobStoreName(platform: string, install: string): string {
  return `${platform}:${install}/jobs`
}

/**
 * Two objects per bot install (a Discord application, a Slack workspace, a Telegram bot), both of this
 * class, called over RPC:
 *
 * - the **front** (`BOT_INSTALLS.idFromName('<platform>:<install id>')`), which the answer of every
 *   event calls once: `events` (every event id of the last day with the answer it got: a duplicate gets
 *   the same answer and starts nothing), `links` (platform user → linked key), `buckets` and `slots`
 *   (each unlinked user's token bucket, the install's concurrency slots) and `intake` (generations
 *   answered and not yet known to have become jobs: its alarm sends their starts, in batches, a moment
 *   after their answers, and sends them again if they stall);
 * - the **job store** (`…/jobs`), which the work after the answer uses: `jobs` (the bot jobs and
 *   notices, which buttons and deliveries read), `asks` (Telegram's "Without…" prompts), `deliveries`
 *   (attempts, Slack `response_url` uses, delivered or dead-lettered), `watched` (pending deliveries:
 *   its alarm sends a message that went quiet again) and `started` (intakes that became jobs).
 *
 * Apart, a burst of commands is answered by an object that the work those commands start never
 * writes to: the answers do not wait for that work's writes to be stored.
 *
 * Every method is synchronous from its first read to its last write (but for setting the alarm), so
 * calls never interleave: the dedupe check and the admission of one event are one atomic step.
 */
export class BotInstall extends DurableObject<EdgeBindings> {
  /** The clock (epoch ms); tests replace it through `runInDurableObject`. */
  clock: () => number = () => Date.now()
  #purgedAt = 0
  /** The alarm as last set here (undefined: not known yet in this instance). */
  #alarmAt: number | null | undefined

  constructor(ctx: DurableObjectState, env: EdgeBindings) {
    super(ctx, env)
    const { sql } = ctx.storage
    sql.exec(`CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, at INTEGER NOT NULL, answer TEXT)`)
    sql.exec(`CREATE INDEX IF NOT EXISTS events_at ON events (at)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS links (user TEXT PRIMARY KEY, link TEXT NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS buckets (user TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS slots (id TEXT PRIMARY KEY, lease_end INTEGER NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, record TEXT NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS asks (message TEXT PRIMARY KEY, job TEXT NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS deliveries (job TEXT PRIMARY KEY, state TEXT NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS watched (job TEXT PRIMARY KEY, due INTEGER NOT NULL)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS intake (event TEXT PRIMARY KEY, record TEXT NOT NULL, due INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0)`)
    sql.exec(`CREATE TABLE IF NOT EXISTS started (event TEXT PRIMARY KEY, at INTEGER NOT NULL)`)
  }

  /**
   * Records the event (or finds it was seen) and, for a generation, admits it: a linked user's is
   * left to their key; an unlinked user's takes a token of their bucket and one of the install's
   * slots, both checked before anything is written. A refused event is still recorded, so its
   * duplicate gets the same refusal.
   */
  async enter(input: EnterInput): Promise<Entry> {
    const now = this.clock()
    this.purge(now)
    const { sql } = this.ctx.storage
    const seen = sql.exec<{ answer: string | null }>(`SELECT answer FROM events WHERE id = ?`, input.event).toArray()[0]
    if (seen) return { kind: 'duplicate', answer: seen.answer === null ? null : (JSON.parse(seen.answer) as StoredAnswer) }

    const link = this.linkOf(input.user)
    let entry: Entry
    if (!input.admit || link) {
      entry = { kind: 'new', link }
    } else {
      const spec = bucketSpec(input.rate)
      const bucket = refill(this.bucket(input.user, spec, now), spec, now)
      const taken = take(bucket, 1)
      if (!taken.taken) {
        entry = { kind: 'refused', refusedBy: 'user_rate', retryAfterSeconds: Math.max(1, secondsUntil(bucket, spec, 1)) }
      } else if (this.liveSlots(now) >= input.concurrency) {
        // How long the others take is unknown: suggest a short wait (leases bound the worst case).
        entry = { kind: 'refused', refusedBy: 'install_concurrency', retryAfterSeconds: 10 }
      } else {
        const slot = crypto.randomUUID()
        sql.exec(`INSERT INTO slots (id, lease_end) VALUES (?, ?)`, slot, now + INSTALL_SLOT_LEASE_MS)
        this.putBucket(input.user, taken.state)
        entry = { kind: 'admitted', slot }
      }
    }
    const answer = entry.kind === 'refused' || !input.answer ? null : JSON.stringify(input.answer)
    sql.exec(`INSERT INTO events (id, at, answer) VALUES (?, ?, ?)`, input.event, now, answer)
    if (input.intake && input.admit && (entry.kind === 'new' || entry.kind === 'admitted')) {
      const stored: StoredIntake = { ...input.intake, entry }
      sql.exec(`INSERT INTO intake (event, record, due, sent) VALUES (?, ?, ?, 0)`, input.event, JSON.stringify(stored), now + INTAKE_START_DELAY_MS)
      await this.scheduleWatchdog()
    }
    return entry
  }

  /** The front's intake record of an event (null once its start is confirmed). */
  intake(event: string): StoredIntake | null {
    const row = this.ctx.storage.sql.exec<{ record: string }>(`SELECT record FROM intake WHERE event = ?`, event).toArray()[0]
    return row ? (JSON.parse(row.record) as StoredIntake) : null
  }

  /** (Job store) Whether an intake became a job or a notice. */
  intakeStarted(event: string): boolean {
    return this.ctx.storage.sql.exec(`SELECT 1 FROM started WHERE event = ?`, event).toArray().length > 0
  }

  /** Stores the answer an event got, for its duplicates. */
  answer(event: string, answer: StoredAnswer): void {
    this.ctx.storage.sql.exec(`UPDATE events SET answer = ? WHERE id = ?`, JSON.stringify(answer), event)
  }

  /** Hands an install slot back (the job was delivered, or never started). False when it was not held. */
  release(slot: string): boolean {
    return this.ctx.storage.sql.exec(`DELETE FROM slots WHERE id = ?`, slot).rowsWritten > 0
  }

  /** Gives back the token an admission took (its job never started: e.g. the install's key refused it). */
  refund(user: string, rate: UserRate): void {
    const now = this.clock()
    const spec = bucketSpec(rate)
    const bucket = refill(this.bucket(user, spec, now), spec, now)
    this.putBucket(user, { ...bucket, tokens: Math.min(spec.capacity, bucket.tokens + 1) })
  }

  /** Binds `user` to a key; returns the link it replaced, if any. */
  link(user: string, link: BotLink): BotLink | null {
    const previous = this.linkOf(user)
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO links (user, link) VALUES (?, ?)`, user, JSON.stringify(link))
    return previous
  }

  /** Removes `user`'s link; returns it (null when there was none). */
  unlink(user: string): BotLink | null {
    const previous = this.linkOf(user)
    if (previous) this.ctx.storage.sql.exec(`DELETE FROM links WHERE user = ?`, user)
    return previous
  }

  linkOf(user: string): BotLink | null {
    const row = this.ctx.storage.sql.exec<{ link: string }>(`SELECT link FROM links WHERE user = ?`, user).toArray()[0]
    return row ? (JSON.parse(row.link) as BotLink) : null
  }

  /** What `/quota` shows an unlinked user: their bucket and the install's slots (and the link, if any). */
  quota(user: string, rate: UserRate, concurrency: number): UserQuota {
    const now = this.clock()
    const spec = bucketSpec(rate)
    const bucket = refill(this.bucket(user, spec, now), spec, now)
    return {
      link: this.linkOf(user),
      tokens: wholeTokens(bucket),
      burst: spec.capacity,
      nextInSeconds: secondsUntil(bucket, spec, 1),
      inFlight: this.liveSlots(now),
      concurrency,
    }
  }

  /**
   * (Job store) A job (or notice) of this install is on its way: its record kept, its delivery
   * watched, and the intake it came from marked started, in one step. False when it was recorded
   * before (a start made twice): its delivery is under way already.
   */
  async jobStarted(record: BotJobRecord, intake?: string): Promise<boolean> {
    const now = this.clock()
    this.purge(now)
    const { sql } = this.ctx.storage
    const fresh = sql.exec(`INSERT OR IGNORE INTO jobs (id, record) VALUES (?, ?)`, record.id, JSON.stringify(record)).rowsWritten > 0
    if (intake !== undefined) sql.exec(`INSERT OR IGNORE INTO started (event, at) VALUES (?, ?)`, intake, now)
    if (!fresh) return false
    sql.exec(`INSERT OR REPLACE INTO watched (job, due) VALUES (?, ?)`, record.id, now + DELIVERY_WATCHDOG_MS)
    await this.scheduleWatchdog()
    return true
  }

  recordJob(record: BotJobRecord): void {
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO jobs (id, record) VALUES (?, ?)`, record.id, JSON.stringify(record))
  }

  /** A job this install started; null for any other (a forged or foreign button id). */
  job(id: string): BotJobRecord | null {
    const row = this.ctx.storage.sql.exec<{ record: string }>(`SELECT record FROM jobs WHERE id = ?`, id).toArray()[0]
    return row ? (JSON.parse(row.record) as BotJobRecord) : null
  }

  /**
   * Watches a job's delivery: unless its message is handled (`claimDelivery`) or the delivery ends
   * first, the alarm sends the message again `DELIVERY_WATCHDOG_MS` (+ `delayMs`) from now.
   */
  async watchDelivery(job: string, delayMs = 0): Promise<void> {
    const due = this.clock() + delayMs + DELIVERY_WATCHDOG_MS
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO watched (job, due) VALUES (?, ?)`, job, due)
    await this.scheduleWatchdog()
  }

  /** A consumer handles the job's message now: where its delivery stands, and the watchdog pushed back. */
  async claimDelivery(job: string): Promise<DeliveryState> {
    const state = this.delivery(job)
    if (state.state === 'pending') await this.watchDelivery(job)
    return state
  }

  /**
   * Sends the starts of generations answered since the last alarm (in batches), asks again for the
   * start of intakes that never became jobs, sends again the messages of watched deliveries that have
   * gone quiet, and sets the next alarm.
   */
  override async alarm(): Promise<void> {
    this.#alarmAt = null
    const now = this.clock()
    // The front, 1: generations answered since the last alarm: their starts go out in batches.
    const fresh = this.ctx.storage.sql.exec<{ event: string; record: string }>(`SELECT event, record FROM intake WHERE sent = 0 AND due <= ?`, now).toArray()
    for (let at = 0; at < fresh.length; at += SEND_BATCH_MAX) {
      const chunk = fresh.slice(at, at + SEND_BATCH_MAX)
      try {
        await this.env.BOT_DELIVERIES?.sendBatch(
          chunk.map(({ record }) => {
            const intake = JSON.parse(record) as StoredIntake
            return { body: { install: installName(intake.event.platform, intake.event.install), intake } }
          }),
        )
        for (const { event } of chunk) this.ctx.storage.sql.exec(`UPDATE intake SET sent = 1, due = ? WHERE event = ?`, now + INTAKE_WATCHDOG_MS, event)
      } catch (error) {
        // Left unsent: the next alarm (a second from now) tries again.
        console.error(`bots: sending ${chunk.length} starts failed (tried again in 1 s):`, error)
        for (const { event } of chunk) this.ctx.storage.sql.exec(`UPDATE intake SET due = ? WHERE event = ?`, now + 1000, event)
      }
    }
    // The front, 2: starts sent a while ago and not known to have become jobs (asked of the job store).
    const stalled = this.ctx.storage.sql.exec<{ event: string; record: string }>(`SELECT event, record FROM intake WHERE sent = 1 AND due <= ?`, now).toArray()
    for (const { event, record } of stalled) {
      const intake = JSON.parse(record) as StoredIntake
      const { platform, install } = intake.event
      const namespace = this.env.BOT_INSTALLS as DurableObjectNamespace<BotInstall>
      if (await namespace.get(namespace.idFromName(jobStoreName(platform, install))).intakeStarted(event)) {
        this.ctx.storage.sql.exec(`DELETE FROM intake WHERE event = ?`, event)
        continue
      }
      console.warn(`bots: event ${event} was answered but never became a job; starting it again`)
      try {
        await this.env.BOT_DELIVERIES?.send({ install: installName(platform, install), intake })
      } catch (error) {
        console.error(`bots: asking for the start of ${event} failed (tried again later):`, error)
      }
      this.ctx.storage.sql.exec(`UPDATE intake SET due = ? WHERE event = ?`, now + INTAKE_WATCHDOG_MS, event)
    }
    // The job store: deliveries whose message went quiet.
    const due = this.ctx.storage.sql.exec<{ job: string }>(`SELECT job FROM watched WHERE due <= ?`, now).toArray()
    for (const { job } of due) {
      const record = this.job(job)
      if (!record || this.delivery(job).state !== 'pending') {
        this.ctx.storage.sql.exec(`DELETE FROM watched WHERE job = ?`, job)
        continue
      }
      console.warn(`bots: the delivery of ${job} went quiet; sending its message again`)
      try {
        await this.env.BOT_DELIVERIES?.send({ install: installName(record.platform, record.install), job })
      } catch (error) {
        console.error(`bots: re-sending the delivery of ${job} failed (tried again later):`, error)
      }
      this.ctx.storage.sql.exec(`UPDATE watched SET due = ? WHERE job = ?`, now + DELIVERY_WATCHDOG_MS, job)
    }
    await this.scheduleWatchdog()
  }

  /** Sets the alarm to the earliest watched delivery or intake (left alone when it is already set early enough). */
  private async scheduleWatchdog(): Promise<void> {
    const next = this.ctx.storage.sql.exec<{ due: number | null }>(`SELECT MIN(due) AS due FROM (SELECT due FROM watched UNION ALL SELECT due FROM intake)`).one().due
    // The alarm's time is remembered, so the hot path (every new generation) reads no storage for it.
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm()
    const current = this.#alarmAt
    if (next === null) {
      if (current !== null) await this.ctx.storage.deleteAlarm()
      this.#alarmAt = null
    } else if (current === null || current > next || current < this.clock()) {
      await this.ctx.storage.setAlarm(next)
      this.#alarmAt = next
    }
  }

  /** Where a job's delivery stands (pending with no attempts when it has not been tried). */
  delivery(job: string): DeliveryState {
    const row = this.ctx.storage.sql.exec<{ state: string }>(`SELECT state FROM deliveries WHERE job = ?`, job).toArray()[0]
    return row ? (JSON.parse(row.state) as DeliveryState) : { state: 'pending', attempts: 0, uses: 0, results: [] }
  }

  /**
   * (Job store) Records one delivery attempt (or the dead-letter path's verdict). A delivery that
   * ended (`delivered` or `dead`) never changes again: the first end wins. `ended`: this call ended
   * it (the caller then hands the job's install slot back to the front).
   */
  noteDelivery(job: string, update: { state: DeliveryState['state']; attempted: boolean; usesAdded: number; result: string }): { state: DeliveryState; ended: boolean } {
    const current = this.delivery(job)
    if (current.state !== 'pending') return { state: current, ended: false }
    const next: DeliveryState = {
      state: update.state,
      attempts: current.attempts + (update.attempted ? 1 : 0),
      uses: current.uses + update.usesAdded,
      results: [...current.results, update.result].slice(-10),
    }
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO deliveries (job, state) VALUES (?, ?)`, job, JSON.stringify(next))
    if (next.state !== 'pending') this.ctx.storage.sql.exec(`DELETE FROM watched WHERE job = ?`, job)
    return { state: next, ended: next.state !== 'pending' }
  }

  /** Remembers a "Without…" prompt (Telegram: a message the user replies to) and the job it asks about. */
  recordAsk(message: string, job: string): void {
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO asks (message, job) VALUES (?, ?)`, message, job)
  }

  /** The job a "Without…" prompt asked about; null for any other message. */
  askOf(message: string): string | null {
    return this.ctx.storage.sql.exec<{ job: string }>(`SELECT job FROM asks WHERE message = ?`, message).toArray()[0]?.job ?? null
  }

  private bucket(user: string, spec: BucketSpec, now: number): BucketState {
    const row = this.ctx.storage.sql.exec<{ tokens: number; updated_at: number }>(`SELECT tokens, updated_at FROM buckets WHERE user = ?`, user).toArray()[0]
    return row ? { tokens: row.tokens, updatedAt: row.updated_at } : { tokens: spec.capacity, updatedAt: now }
  }

  private putBucket(user: string, state: BucketState): void {
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO buckets (user, tokens, updated_at) VALUES (?, ?, ?)`, user, state.tokens, state.updatedAt)
  }

  private liveSlots(now: number): number {
    this.ctx.storage.sql.exec(`DELETE FROM slots WHERE lease_end <= ?`, now)
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM slots`).one().n
  }

  /** Forgets event ids older than a day (at most once a minute). */
  private purge(now: number): void {
    if (now - this.#purgedAt < 60_000) return
    this.#purgedAt = now
    this.ctx.storage.sql.exec(`DELETE FROM events WHERE at < ?`, now - EVENT_MEMORY_MS)
    this.ctx.storage.sql.exec(`DELETE FROM started WHERE at < ?`, now - EVENT_MEMORY_MS)
  }
}
