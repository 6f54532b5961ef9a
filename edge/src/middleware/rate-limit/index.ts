import { afterResponse } from '../../runtime/background.ts'
import type { MiddlewareHandler } from 'hono'
import type { Admission } from '../../accounts/admission.ts'
import type { UsageDelta } from '../../accounts/key-account.ts'
import { ApiError } from '../../errors/api-error.ts'
import type { Account, AccountVariables } from '../api-key-auth/index.ts'
import { quotaReport, rateLimitHeaders, type QuotaReport } from './ratelimit-headers.ts'

/**
 * The quotas reported on this response so far (requests, then images once `consumeImages` ran), and
 * the usage a route counts for the request (settled with the slot in one call after the response).
 */
export type RateLimitVariables = { rateLimit: QuotaReport[]; usage?: UsageDelta }

type RateLimitEnv = { Variables: AccountVariables & RateLimitVariables }

/** What `consumeImages` needs of a Hono context: any app whose Variables include `account` and `rateLimit`. */
export interface RateLimitedContext {
  get(key: 'account'): Account
  get(key: 'admission'): Admission | undefined
  get(key: 'rateLimit'): QuotaReport[]
}

function keyGone(): ApiError {
  return new ApiError(401, { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided.', internal: 'key revoked mid-request' })
}

function refusal(admission: Admission, reports: QuotaReport[], code: string, message: string): ApiError {
  return new ApiError(429, {
    type: 'rate_limit_error',
    code,
    message,
    headers: { 'Retry-After': String(admission.retryAfterSeconds), ...rateLimitHeaders(reports) },
  })
}

/**
 * Per-key limits from the key's Durable Object: a requests-per-minute token bucket (with burst) and a
 * cap on requests in flight. Goes after `apiKeyAuth()`.
 *
 * - refused: 429 with `Retry-After`, code `rate_limit_exceeded` (requests per minute) or
 *   `concurrency_limit_exceeded` (requests in flight); a refusal takes neither a token nor a slot;
 * - every response (errors too) carries `RateLimit-Policy: "requests";q=<per minute>;w=60` and
 *   `RateLimit: "requests";r=<remaining>;t=<seconds>`;
 * - the concurrency slot is handed back after the handler, whatever happened (a slot that is never
 *   handed back, e.g. when the isolate dies, expires after `SLOT_LEASE_MS`).
 *
 * @example app.post('/v1/images/generations', apiKeyAuth(), rateLimit(), handler)
 */
export function rateLimit(): MiddlewareHandler<RateLimitEnv> {
  return async function rateLimitMiddleware(c, next) {
    const { stub } = c.get('account')
    // apiKeyAuth({ admitFor }) may have admitted the request in its own Durable Object call already.
    const admission = c.get('admission') ?? (await stub.admitRequest())
    if (!admission) throw keyGone()
    const reports = [quotaReport(admission)]
    if (!admission.allowed) {
      if (admission.refusedBy === 'concurrency') {
        throw refusal(admission, reports, 'concurrency_limit_exceeded', 'Too many concurrent requests for this API key. Wait for one to finish, then retry.')
      }
      throw refusal(
        admission,
        reports,
        'rate_limit_exceeded',
        `Rate limit reached for this API key: ${admission.limit} requests per minute. Retry after ${admission.retryAfterSeconds} s.`,
      )
    }
    c.set('admission', admission)
    c.set('rateLimit', reports)
    try {
      await next()
    } finally {
      for (const [name, value] of Object.entries(rateLimitHeaders(reports))) c.header(name, value)
      // One Durable Object call after the response hands the slot back and counts the route's usage.
      const usage = c.get('usage')
      if (admission.slot !== undefined || usage !== undefined) {
        const settled = stub.settle(admission.slot, usage).catch((error: unknown) => {
          // The lease frees the slot later; the client's answer must not depend on this.
          console.warn('rate limit: settling the request (slot, usage) failed:', error)
        })
        await afterResponse(c, settled)
      }
    }
  }
}

/**
 * Puts the images quota `images` into the response's rate-limit headers (replacing an earlier one),
 * and, when it is a refusal of `n` images, throws the 429 `image_quota_exceeded` for it. For answers
 * that took the images elsewhere (the generation coordinator charges its leader) or took none (a
 * cache hit reports the quota its admission saw).
 */
export function reportImages(c: RateLimitedContext, images: Admission, n: number): void {
  const reports = c.get('rateLimit') as QuotaReport[] | undefined
  if (!reports) throw new Error('reportImages: rateLimit() must run before it')
  replaceReport(reports, quotaReport(images))
  if (images.requests) replaceReport(reports, quotaReport(images.requests))
  if (!images.allowed) {
    throw refusal(
      images,
      reports,
      'image_quota_exceeded',
      n > images.limit
        ? `This request asks for ${n} images; this API key's quota is ${images.limit} images per day.`
        : `Daily image quota reached for this API key: ${images.limit} images per day (${images.remaining} left). Retry after ${images.retryAfterSeconds} s.`,
    )
  }
}

function replaceReport(reports: QuotaReport[], report: QuotaReport): void {
  const at = reports.findIndex((r) => r.policy === report.policy)
  if (at === -1) reports.push(report)
  else reports[at] = report
}
