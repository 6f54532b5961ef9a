import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { ApiError } from './api-error.ts'

function respond(c: Context, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value)
  return c.json({ error: { type: error.type, message: error.message, code: error.code } }, error.status)
}

/** The one place where errors become responses. Anything that is not an ApiError is a 500 without detail. */
export const errorHandler: ErrorHandler = (error, c) => {
  const requestId = c.res.headers.get('x-request-id') ?? 'unknown'
  if (error instanceof ApiError) {
    if (error.internal) console.warn(`[${requestId}] ${error.code}: ${error.internal}`)
    return respond(c, error)
  }
  console.error(`[${requestId}] unhandled:`, error)
  return respond(c, new ApiError(500, { code: 'internal_error', message: 'internal error' }))
}

export const notFoundHandler: NotFoundHandler = (c) =>
  respond(c, new ApiError(404, { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }))
