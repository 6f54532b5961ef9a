import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { errorBody } from '@snoopi/gpu-service/contract/error-body'
import { ApiError } from './api-error.ts'

function respond(c: Context, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value)
  return c.json(errorBody(error.status, error.code, error.message, error.type), error.status)
}

/** Stable codes for the statuses libraries raise (Hono's validators, body limit, CORS …). */
const CODES: Partial<Record<number, string>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  411: 'length_required',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limit_exceeded',
}

/**
 * A library's HTTP exception (Hono's `HTTPException`) becomes an ApiError with its own status: its
 * message is written for clients (e.g. "Malformed JSON in request body"), so a 4xx keeps it; a 5xx is
 * a server fault and says nothing.
 */
function fromHttpException(error: HTTPException): ApiError {
  const status = error.status
  if (status >= 500 || status < 400) return new ApiError(500, { code: 'internal_error', message: 'internal error', internal: `HTTPException ${status}: ${error.message}` })
  return new ApiError(status, {
    code: CODES[status] ?? 'invalid_request',
    message: error.message || `request refused (${status})`,
    type: status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : 'invalid_request_error',
  })
}

/**
 * The one place where errors become responses: ApiErrors and library HTTP exceptions keep their status;
 * anything else is a 500 without detail (logged with the request id).
 */
export const errorHandler: ErrorHandler = (error, c) => {
  const requestId = c.res.headers.get('x-request-id') ?? 'unknown'
  if (error instanceof HTTPException) return respond(c, fromHttpException(error))
  if (error instanceof ApiError) {
    if (error.internal) console.warn(`[${requestId}] ${error.code}: ${error.internal}`)
    return respond(c, error)
  }
  console.error(`[${requestId}] unhandled:`, error)
  return respond(c, new ApiError(500, { code: 'internal_error', message: 'internal error' }))
}

export const notFoundHandler: NotFoundHandler = (c) =>
  respond(c, new ApiError(404, { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }))
