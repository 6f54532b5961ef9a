import type { MiddlewareHandler } from 'hono'

export interface RequestIdOptions {
  /** Header read from the client and written on the response. Default `x-request-id`. */
  headerName?: string
  /** Longest client-supplied id that is kept; others are replaced. Default 128. */
  maxLength?: number
}

export type RequestIdVariables = { requestId: string }

/**
 * Gives every request an id (the client's own if it is a safe token, else a random UUID), stores it as
 * `c.get('requestId')` and sets it on every response, errors included.
 *
 * @example app.use(requestId())
 */
export function requestId({ headerName = 'x-request-id', maxLength = 128 }: RequestIdOptions = {}): MiddlewareHandler<{
  Variables: RequestIdVariables
}> {
  const safe = new RegExp(`^[A-Za-z0-9._:-]{1,${maxLength}}$`)
  return async function requestIdMiddleware(c, next) {
    const offered = c.req.header(headerName)
    const id = offered && safe.test(offered) ? offered : crypto.randomUUID()
    c.set('requestId', id)
    c.header(headerName, id)
    await next()
    c.res.headers.set(headerName, id)
  }
}
