/**
 * Plans are data: a new plan is a new row. Every limit is per API key.
 *
 * | plan | requests/min | burst | images/day | concurrent | unfinished jobs |
 * | --- | ---: | ---: | ---: | ---: | ---: |
 * | free | 10 | 10 | 100 | 2 | 5 |
 * | pro | 120 | 30 | 5000 | 8 | 50 |
 * | enterprise | 60000 | 5000 | 1000000 | 512 | 1000 |
 * | test | 3 | 3 | 5 | 2 | 2 |
 */
export interface Plan {
  /** Sustained request rate: the request bucket refills at this many tokens per minute. */
  requestsPerMinute: number
  /** The request bucket's capacity: how many requests may arrive back to back. */
  requestBurst: number
  /** The image bucket's capacity and its refill per day (it refills continuously, 1/86400 of this a second). */
  imagesPerDay: number
  /** Requests of one key in flight at once. */
  maxConcurrent: number
  /** Jobs of one key queued or running at once (`POST /v1/jobs` beyond: 429 `queue_full`). */
  maxQueuedJobs: number
}

export const PLANS = {
  free: { requestsPerMinute: 10, requestBurst: 10, imagesPerDay: 100, maxConcurrent: 2, maxQueuedJobs: 5 },
  pro: { requestsPerMinute: 120, requestBurst: 30, imagesPerDay: 5000, maxConcurrent: 8, maxQueuedJobs: 50 },
  /** High-volume customers (and the edge benchmark, which must not hit the limits it measures around). */
  enterprise: { requestsPerMinute: 60_000, requestBurst: 5_000, imagesPerDay: 1_000_000, maxConcurrent: 512, maxQueuedJobs: 1000 },
  /** Tiny limits, so tests (and staging smoke checks) can reach every limit in a few requests. */
  test: { requestsPerMinute: 3, requestBurst: 3, imagesPerDay: 5, maxConcurrent: 2, maxQueuedJobs: 2 },
} as const satisfies Record<string, Plan>

export type PlanName = keyof typeof PLANS
export const PLAN_NAMES = Object.keys(PLANS) as [PlanName, ...PlanName[]]
export const DEFAULT_PLAN: PlanName = 'free'
