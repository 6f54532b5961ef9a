import type { MiddlewareHandler } from 'hono'
import { errorResponse } from '../http/errors.ts'
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyRequest } from './request-signature.ts'

export interface SignedRequestsOptions {
  secret: string
  /** Accepted clock skew in seconds. Default 300. */
  windowSeconds?: number
  /** Called with the reason of every rejection (the client only sees a generic 401). */
  onReject?: (reason: string, path: string) => void
}

/**
 * Hono middleware that admits only requests signed by the edge (see `request-signature.ts`).
 *
 * @example app.use('/internal/*', signedRequests({ secret: config.GPU_SERVICE_SECRET }))
 */
export function signedRequests({ secret, windowSeconds = 300, onReject }: SignedRequestsOptions): MiddlewareHandler {
  if (!secret) throw new Error('signedRequests: secret is required')
  return async function signedRequest(c, next) {
    const url = new URL(c.req.url)
    const path = url.pathname + url.search
    const body = new Uint8Array(await c.req.arrayBuffer())
    const verdict = await verifyRequest({
      secret,
      windowSeconds,
      method: c.req.method,
      path,
      body,
      signature: c.req.header(SIGNATURE_HEADER),
      timestamp: c.req.header(TIMESTAMP_HEADER),
    })
    if (!verdict.ok) {
      onReject?.(verdict.reason, path)
      return errorResponse(c, 401, 'invalid_signature', 'request signature missing, invalid or expired')
    }
    await next()
  }
}
