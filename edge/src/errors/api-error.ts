import { errorTypeFor, type ErrorType } from '@snoopi/gpu-service/contract/error-body'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export type { ErrorType }

export interface ApiErrorOptions {
  /** Stable machine-readable code, e.g. `upstream_unavailable`. */
  code: string
  /** What the client sees. Never contains internal detail. */
  message: string
  type?: ErrorType
  /** Logged with the request id, never sent to the client. */
  internal?: string
  headers?: Record<string, string>
}

/**
 * The edge's one error class; `errorHandler` turns it into the OpenAI error shape
 * `{ error: { type, message, code } }`.
 *
 * @example throw new ApiError(503, { code: 'upstream_unavailable', message: 'try again shortly' })
 */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly status: ContentfulStatusCode
  readonly code: string
  readonly type: ErrorType
  readonly internal: string | undefined
  readonly headers: Record<string, string>

  constructor(status: ContentfulStatusCode, options: ApiErrorOptions) {
    super(options.message)
    this.status = status
    this.code = options.code
    this.type = options.type ?? errorTypeFor(status)
    this.internal = options.internal
    this.headers = options.headers ?? {}
  }
}
