import { emptyCounts, isFinished, type JobCounts, type JobView } from '../jobs/job-record.ts'

/**
 * A key account's copy of its jobs (the jobs' own Durable Objects are the source of truth; each
 * pushes its newer versions here). Serves `GET /v1/jobs` (newest first: job ids sort by creation),
 * the counts by status of `/v1/usage`, the plan's cap on unfinished jobs and the queue positions, and
 * settles what each job was charged at enqueue exactly once, when its first finished version arrives.
 *
 * Storage keys (the account's synchronous KV API; every method is synchronous, so atomic):
 * - `job:<id>` → JobView; `jobopen:<id>` → its status while queued or running;
 * - `jobcharge:<id>` → `{ images, settled }`; `jobs:counts` → JobCounts.
 */
const JOB = 'job:'
const OPEN = 'jobopen:'
const CHARGE = 'jobcharge:'
const COUNTS = 'jobs:counts'

interface Charge {
  images: number
  settled: boolean
}

/** What a job's first finished version settles: images to give back and the usage to count. */
export interface JobSettlement {
  refund: number
  usage: { images?: number; cacheHits?: number; cacheMisses?: number }
}

export class AccountJobs {
  readonly #kv: SyncKvStorage

  constructor(kv: SyncKvStorage) {
    this.#kv = kv
  }

  get(id: string): JobView | undefined {
    return this.#kv.get<JobView>(JOB + id)
  }

  counts(): JobCounts {
    return { ...emptyCounts(), ...this.#kv.get<JobCounts>(COUNTS) }
  }

  /** Jobs not finished yet (queued or running): what the plan's `maxQueuedJobs` caps. */
  unfinished(): number {
    const counts = this.counts()
    return counts.queued + counts.running
  }

  /** Records what a new job was charged at enqueue (settled when it finishes). */
  recordCharge(id: string, images: number): void {
    this.#kv.put(CHARGE + id, { images, settled: false } satisfies Charge)
  }

  /**
   * Stores `view` unless a copy at least as new is stored (versions only grow, so pushes may arrive
   * twice or out of order). The first finished version returns its settlement: a job that generated
   * its images (`MISS`) keeps its charge; one answered from the cache, failed or canceled gets it back.
   */
  apply(view: JobView): { applied: boolean; settlement?: JobSettlement } {
    const stored = this.get(view.id)
    if (stored && stored.version >= view.version) return { applied: false }
    const counts = this.counts()
    if (stored) counts[stored.status] = Math.max(0, counts[stored.status] - 1)
    counts[view.status]++
    this.#kv.put(COUNTS, counts)
    this.#kv.put(JOB + view.id, view)
    if (isFinished(view.status)) this.#kv.delete(OPEN + view.id)
    else this.#kv.put(OPEN + view.id, view.status)
    if (!isFinished(view.status) || (stored && isFinished(stored.status))) return { applied: true }

    const charge = this.#kv.get<Charge>(CHARGE + view.id)
    const kept = view.status === 'succeeded' && view.cache === 'MISS'
    let refund = 0
    if (charge && !charge.settled) {
      refund = kept ? 0 : charge.images
      this.#kv.put(CHARGE + view.id, { ...charge, settled: true })
    }
    const usage = view.status !== 'succeeded' ? {} : kept ? { images: view.n, cacheMisses: 1 } : { cacheHits: 1 }
    return { applied: true, settlement: { refund, usage } }
  }

  /** Newest first, `limit` of them after the job `after` (exclusive), and whether more follow. */
  list(limit: number, after?: string): { views: JobView[]; hasMore: boolean } {
    const entries = [...this.#kv.list<JobView>({ prefix: JOB, reverse: true, limit: limit + 1, ...(after === undefined ? {} : { end: JOB + after }) })]
    return { views: entries.slice(0, limit).map(([, view]) => view), hasMore: entries.length > limit }
  }

  /** 1 + the number of this key's queued jobs created before `id` (ids sort by creation). */
  queuePosition(id: string): number {
    let ahead = 0
    for (const [, status] of this.#kv.list<string>({ prefix: OPEN, end: OPEN + id })) if (status === 'queued') ahead++
    return ahead + 1
  }
}

