import { DurableObject } from 'cloudflare:workers'
import type { EdgeBindings } from '../config/edge-config.ts'

/** How long a key's first answer is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000
/** Stored bodies are split into parts of this many characters (a stored value is at most 2 MiB). */
const PART_CHARS = 1_000_000

/** The first request's answer, replayed to repeats. */
export interface StoredAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

interface Entry {
  fingerprint: string
  state: 'in_flight' | 'done'
  /** Epoch ms: when the request that holds it started (a holder that died is replaced after its lease). */
  startedAt: number
  expiresAt: number
  /** For jobs: the id the first request gives its job, so a repeat names the same job. */
  jobId?: string
  answer?: { status: number; headers: Record<string, string>; parts: number }
}

export type Begin =
  | { action: 'proceed'; jobId?: string }
  | { action: 'mismatch' }
  | { action: 'in_flight'; jobId?: string }
  | { action: 'replay'; answer: StoredAnswer }

const ENTRY = 'entry'
const PART = 'part:'

/**
 * One per (API key, route, Idempotency-Key) (`IDEMPOTENCY.idFromName(…)`, see `idempotency.ts`): the
 * first request's body fingerprint, whether it has been answered, and its answer, for 24 h from the
 * first request (then the alarm deletes it all).
 */
export class IdempotencyRecord extends DurableObject<EdgeBindings> {
  /** The clock (epoch ms); tests replace it through `runInDurableObject`. */
  clock: () => number = () => Date.now()

  /**
   * A request with this key arrives. New (or expired, or held by a request that has been in flight
   * longer than `leaseMs`, which is taken to have died): it proceeds and holds the key. Otherwise a
   * different body is a mismatch, an unanswered first request is in flight, an answered one is replayed.
   */
  async begin(fingerprint: string, leaseMs: number, jobId?: string): Promise<Begin> {
    const now = this.clock()
    let entry = this.ctx.storage.kv.get<Entry>(ENTRY)
    if (entry && entry.expiresAt <= now) {
      this.clear()
      entry = undefined
    }
    if (!entry) {
      const fresh: Entry = { fingerprint, state: 'in_flight', startedAt: now, expiresAt: now + IDEMPOTENCY_TTL_MS }
      if (jobId !== undefined) fresh.jobId = jobId
      this.ctx.storage.kv.put(ENTRY, fresh)
      await this.ctx.storage.setAlarm(fresh.expiresAt)
      return jobId === undefined ? { action: 'proceed' } : { action: 'proceed', jobId }
    }
    if (entry.fingerprint !== fingerprint) return { action: 'mismatch' }
    if (entry.state === 'done' && entry.answer) {
      const parts = Array.from({ length: entry.answer.parts }, (_, i) => this.ctx.storage.kv.get<string>(PART + i) ?? '')
      return { action: 'replay', answer: { status: entry.answer.status, headers: entry.answer.headers, body: parts.join('') } }
    }
    if (entry.startedAt + leaseMs <= now) {
      this.ctx.storage.kv.put(ENTRY, { ...entry, startedAt: now })
      return entry.jobId === undefined ? { action: 'proceed' } : { action: 'proceed', jobId: entry.jobId }
    }
    return entry.jobId === undefined ? { action: 'in_flight' } : { action: 'in_flight', jobId: entry.jobId }
  }

  /** The first request's answer, kept for the rest of the 24 h. */
  finish(fingerprint: string, answer: StoredAnswer): void {
    const entry = this.ctx.storage.kv.get<Entry>(ENTRY)
    if (!entry || entry.fingerprint !== fingerprint || entry.state === 'done') return
    const parts = Math.max(1, Math.ceil(answer.body.length / PART_CHARS))
    this.ctx.storage.transactionSync(() => {
      for (let i = 0; i < parts; i++) this.ctx.storage.kv.put(PART + i, answer.body.slice(i * PART_CHARS, (i + 1) * PART_CHARS))
      this.ctx.storage.kv.put(ENTRY, { ...entry, state: 'done', answer: { status: answer.status, headers: answer.headers, parts } })
    })
  }

  /** The first request ended without an answer worth repeating (5xx, 429, 409): the key is free again. */
  abandon(fingerprint: string): void {
    const entry = this.ctx.storage.kv.get<Entry>(ENTRY)
    if (entry && entry.fingerprint === fingerprint && entry.state === 'in_flight') this.clear()
  }

  override async alarm(): Promise<void> {
    const entry = this.ctx.storage.kv.get<Entry>(ENTRY)
    if (!entry) return
    if (entry.expiresAt <= this.clock()) this.clear()
    else await this.ctx.storage.setAlarm(entry.expiresAt)
  }

  private clear(): void {
    for (const [key] of [...this.ctx.storage.kv.list()]) this.ctx.storage.kv.delete(key)
  }
}
