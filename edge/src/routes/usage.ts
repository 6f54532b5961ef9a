import { Hono } from 'hono'
import type { UsageCounters } from '../accounts/key-account.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { apiKeyAuth, requireScope, type AccountVariables } from '../middleware/api-key-auth/index.ts'

type UsageEnv = { Bindings: EdgeBindings; Variables: AccountVariables }

function counters(c: UsageCounters) {
  return { images: c.images, cache_hits: c.cacheHits, cache_misses: c.cacheMisses, requests: c.requests }
}

/**
 * `GET /v1/usage` (API key with scope `usage:read`): the key's plan limits, what is left now, and
 * today's (UTC) and all-time counters. Not rate-limited, and reading it counts as no request.
 *
 * `{ key_id, plan, limits: {requests_per_minute, request_burst, images_per_day, concurrent_requests, queued_jobs},
 *    remaining: {requests, images}, in_flight, today: {date, images, cache_hits, cache_misses, requests},
 *    total: {images, cache_hits, cache_misses, requests},
 *    jobs: {queued, running, succeeded, failed, canceled} }`
 *
 * `images` and `cache_misses` count `x-cache: MISS` answers (the only ones charged images);
 * `cache_hits` counts `HIT` and `COALESCED` answers (a job counts once, when it succeeds). A request
 * refused for images is not counted. `jobs` counts the key's jobs by their status now.
 */
export const usageRoutes = new Hono<UsageEnv>().get('/v1/usage', apiKeyAuth(), requireScope('usage:read'), async (c) => {
  const report = await c.get('account').stub.usage()
  if (!report) throw new ApiError(401, { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' })
  return c.json({
    key_id: report.keyId,
    plan: report.plan,
    limits: {
      requests_per_minute: report.limits.requestsPerMinute,
      request_burst: report.limits.requestBurst,
      images_per_day: report.limits.imagesPerDay,
      concurrent_requests: report.limits.maxConcurrent,
      queued_jobs: report.limits.maxQueuedJobs,
    },
    remaining: report.remaining,
    in_flight: report.inFlight,
    today: { date: report.today.day, ...counters(report.today) },
    total: counters(report.total),
    jobs: report.jobs,
  })
})
