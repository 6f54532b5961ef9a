import type { Context, ErrorHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { errorBody } from '../contract/error-body.ts'
import type { ServiceMetrics } from '../metrics/service-metrics.ts'
import { ServiceError, type ServiceErrorStatus } from '../service/service-error.ts'

/** An error answer in the one error shape of both tiers (see contract/error-body.ts). */
export function errorResponse(c: Context, status: ContentfulStatusCode | ServiceErrorStatus, code: string, message: string): Response {
  // 499 (client gone) is no status Hono names; it is sent as given.
  return c.json(errorBody(status, code, message), status as ContentfulStatusCode)
}

/**
 * The one place where errors become answers (`app.onError`): a ServiceError gives its status, code,
 * message and Retry-After and counts under its kind in `snoopi_errors_total`; its cause, if any, is
 * logged. Anything else is a bug: logged with its stack, answered 500 `internal_error`.
 */
export function errorHandler({ metrics, log }: { metrics: ServiceMetrics; log: (line: string) => void }): ErrorHandler {
  return (error, c) => {
    if (error instanceof ServiceError) {
      if (error.kind) metrics.errors.inc({ kind: error.kind })
      if (error.retryAfterSeconds !== undefined) c.header('retry-after', String(error.retryAfterSeconds))
      if (error.cause !== undefined) console.error(`${error.message}:`, error.cause)
      return errorResponse(c, error.status, error.code, error.message)
    }
    log(`unhandled error on ${c.req.method} ${c.req.path}: ${error.stack ?? String(error)}`)
    return errorResponse(c, 500, 'internal_error', 'internal error')
  }
}
