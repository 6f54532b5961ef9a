import type { Admission, QuotaPolicy } from '../../accounts/admission.ts'

/** One quota's line in the headers. */
export interface QuotaReport {
  policy: QuotaPolicy
  limit: number
  windowSeconds: number
  remaining: number
  resetSeconds: number
}

export function quotaReport(admission: Admission): QuotaReport {
  const { policy, limit, windowSeconds, remaining, resetSeconds } = admission
  return { policy, limit, windowSeconds, remaining, resetSeconds }
}

/**
 * The `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers, in their
 * structured-field form (RFC 9651 lists of quoted policy names with parameters), one member per quota:
 *
 *     RateLimit-Policy: "requests";q=10;w=60, "images";q=100;w=86400
 *     RateLimit: "requests";r=9;t=6, "images";r=99;t=864
 */
export function rateLimitHeaders(reports: readonly QuotaReport[]): { 'RateLimit-Policy': string; RateLimit: string } {
  return {
    'RateLimit-Policy': reports.map((q) => `"${q.policy}";q=${q.limit};w=${q.windowSeconds}`).join(', '),
    RateLimit: reports.map((q) => `"${q.policy}";r=${q.remaining};t=${q.resetSeconds}`).join(', '),
  }
}
