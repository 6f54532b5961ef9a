import { DurableObject } from 'cloudflare:workers'
import { refill, secondsUntil, take, wholeTokens, type BucketSpec, type BucketState } from '../accounts/token-bucket.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import type { UserRate } from './bot-settings.ts'
import type { BotJobRecord, BotLink, StoredAnswer } from './bot-target.ts'

/** How long an event id is remembered for deduplication (platforms retry within minutes; a day is plenty). */
export const EVENT_MEMORY_MS = 24 * 3_600_000
/** How long an unlinked user's job holds its install slot at most (a job that never reports back frees it after this). */
export const INSTALL_SLOT_LEASE_MS = 15 * 60_000

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

export interface EnterInput {
  /** The platform's event id (Discord interaction id, Slack trigger id, Telegram update id). */
  event: string
  user: string
  /** Admit a generation: a linked user's goes to their key; an unlinked user's spends the user's bucket and an install slot. */
  admit: boolean
  rate: UserRate
  concurrency: number
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

/**
 * One per bot install (`BOT_INSTALLS.idFromName('<platform>:<install id>')`: a Discord application,
 * a Slack workspace, a Telegram bot), called over RPC. It holds, in its SQLite storage:
 * - `events`: every event id of the last day with the answer it got (a duplicate gets the same answer
 *   and starts nothing);
 * - `links`: platform user → linked API key (its account's Durable Object id);
 * - `buckets` and `slots`: each unlinked user's token bucket and the install's concurrency slots;
 * - `jobs`: the bot jobs it started (request, delivery target), which buttons and deliveries read;
 * - `asks`: Telegram's "Without…" prompts (chat and message id → job), which the user's reply answers;
 * - `deliveries`: each job's delivery (attempts, Slack `response_url` uses, delivered or dead-lettered).
 *
 * Every method is synchronous from its first read to its last write, so calls never interleave: the
 * dedupe check and the admission of one event are one atomic step.
 */
export class BotInstall extends DurableObject<EdgeBindings> {
  /** The clock (epoch ms); tests replace it through `runInDurableObject`. */
  clock: () => number = () => Date.now()
  #purgedAt = 0

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
  }

  /**
   * Records the event (or finds it was seen) and, for a generation, admits it: a linked user's is
   * left to their key; an unlinked user's takes a token of their bucket and one of the install's
   * slots, both checked before anything is written. A refused event is still recorded, so its
   * duplicate gets the same refusal.
   */
  enter(input: EnterInput): Entry {
    const now = this.clock()
    this.purge(now)
    const { sql } = this.ctx.storage
    const seen = sql.exec<{ answer: string | null }>(`SELECT answer FROM events WHERE id = ?`, input.event).toArray()[0]
    if (seen) return { kind: 'duplicate', answer: seen.answer === null ? null : (JSON.parse(seen.answer) as StoredAnswer) }

    const link = this.linkOf(input.user)
    if (!input.admit || link) {
      sql.exec(`INSERT INTO events (id, at) VALUES (?, ?)`, input.event, now)
      return { kind: 'new', link }
    }
    const spec = bucketSpec(input.rate)
    const bucket = refill(this.bucket(input.user, spec, now), spec, now)
    const taken = take(bucket, 1)
    let entry: Entry
    if (!taken.taken) {
      entry = { kind: 'refused', refusedBy: 'user_rate', retryAfterSeconds: Math.max(1, secondsUntil(bucket, spec, 1)) }
    } else if (this.liveSlots(now) >= input.concurrency) {
      // How long the others take is unknown: suggest a short wait (leases bound the worst case).
      entry = { kind: 'refused', refusedBy: 'install_concurrency', retryAfterSeconds: 10 }
    } else {
      const slot = crypto.randomUUID()
      this.ctx.storage.transactionSync(() => {
        sql.exec(`INSERT INTO slots (id, lease_end) VALUES (?, ?)`, slot, now + INSTALL_SLOT_LEASE_MS)
        this.putBucket(input.user, taken.state)
      })
      entry = { kind: 'admitted', slot }
    }
    sql.exec(`INSERT INTO events (id, at) VALUES (?, ?)`, input.event, now)
    return entry
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

  recordJob(record: BotJobRecord): void {
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO jobs (id, record) VALUES (?, ?)`, record.id, JSON.stringify(record))
  }

  /** A job this install started; null for any other (a forged or foreign button id). */
  job(id: string): BotJobRecord | null {
    const row = this.ctx.storage.sql.exec<{ record: string }>(`SELECT record FROM jobs WHERE id = ?`, id).toArray()[0]
    return row ? (JSON.parse(row.record) as BotJobRecord) : null
  }

  /** Where a job's delivery stands (pending with no attempts when it has not been tried). */
  delivery(job: string): DeliveryState {
    const row = this.ctx.storage.sql.exec<{ state: string }>(`SELECT state FROM deliveries WHERE job = ?`, job).toArray()[0]
    return row ? (JSON.parse(row.state) as DeliveryState) : { state: 'pending', attempts: 0, uses: 0, results: [] }
  }

  /**
   * Records one delivery attempt (or the dead-letter path's verdict). A delivery that ended
   * (`delivered` or `dead`) hands its job's install slot back and never changes again: the first end wins.
   */
  noteDelivery(job: string, update: { state: DeliveryState['state']; attempted: boolean; usesAdded: number; result: string }): DeliveryState {
    const current = this.delivery(job)
    if (current.state !== 'pending') return current
    const next: DeliveryState = {
      state: update.state,
      attempts: current.attempts + (update.attempted ? 1 : 0),
      uses: current.uses + update.usesAdded,
      results: [...current.results, update.result].slice(-10),
    }
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO deliveries (job, state) VALUES (?, ?)`, job, JSON.stringify(next))
      const slot = next.state === 'pending' ? undefined : this.job(job)?.slot
      if (slot !== undefined) this.release(slot)
    })
    return next
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
  }
}
