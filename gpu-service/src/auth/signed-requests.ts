import type { MiddlewareHandler } from 'hono'
import { declaresTooLarge, readCappedBody } from '../http/capped-body.ts'
import { errorResponse } from '../http/errors.ts'
import { ReplayGuard } from './replay-guard.ts'
import {
  checkSignatureHeaders,
  DEFAULT_FUTURE_SKEW_SECONDS,
  DEFAULT_WINDOW_SECONDS,
  NONCE_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyMac,
} from '../contract/request-signature.ts'

export interface SignedRequestsOptions {
  secret: string
  /** Largest body accepted, bytes: the cap applies while reading, before the MAC is checked. */
  maxBodyBytes: number
  /** How old a signed timestamp may be, seconds. Default 300. */
  windowSeconds?: number
  /** How far in the future a signed timestamp may be, seconds. Default 30. */
  futureSkewSeconds?: number
  /** The nonces seen (default: a new guard over `windowSeconds`). */
  replayGuard?: ReplayGuard
  /** Called with the reason of every rejection (the client only sees a generic 401). */
  onReject?: (reason: string, path: string) => void
  /** The clock, milliseconds (tests). */
  now?: () => number
}

/**
 * Hono middleware that admits only requests signed by the edge (see `request-signature.ts`), each
 * once. It spends as little as possible on a request that will fail, in this order:
 * 1. a declared Content-Length over the cap → 413, nothing read;
 * 2. signature headers missing or malformed, or the timestamp out of its window → 401, nothing read;
 * 3. the body, read under the cap (a longer stream → 413 once the cap is passed);
 * 4. the MAC → 401;
 * 5. the nonce, against the replay guard → 401 `replayed_request`, or 503 when the guard is full.
 * The route then reads the very bytes whose MAC was checked.
 *
 * @example app.use('/internal/*', signedRequests({ secret: config.GPU_SERVICE_SECRET, maxBodyBytes: 65536 }))
 */
export function signedRequests(options: SignedRequestsOptions): MiddlewareHandler {
  const { secret, maxBodyBytes, onReject, now = Date.now } = options
  const windowSeconds = options.windowSeconds ?? DEFAULT_WINDOW_SECONDS
  const futureSkewSeconds = options.futureSkewSeconds ?? DEFAULT_FUTURE_SKEW_SECONDS
  if (!secret) throw new Error('signedRequests: secret is required')
  const guard = options.replayGuard ?? new ReplayGuard({ windowSeconds })
  const tooLarge = `request body over ${maxBodyBytes} bytes`
  return async function signedRequest(c, next) {
    const url = new URL(c.req.url)
    const path = url.pathname + url.search
    const unauthorized = (reason: string) => {
      onReject?.(reason, path)
      return errorResponse(c, 401, 'invalid_signature', 'request signature missing, invalid or expired')
    }
    // A declared oversize is answered before anything else: it costs nothing and says the real problem.
    if (declaresTooLarge(c.req.raw.headers, maxBodyBytes)) return errorResponse(c, 413, 'body_too_large', tooLarge)
    const checked = checkSignatureHeaders({
      signature: c.req.header(SIGNATURE_HEADER),
      timestamp: c.req.header(TIMESTAMP_HEADER),
      nonce: c.req.header(NONCE_HEADER),
      windowSeconds,
      futureSkewSeconds,
      now: now(),
    })
    if (!checked.ok) return unauthorized(checked.reason)
    const body = await readCappedBody(c.req.raw, maxBodyBytes)
    if (!body.ok) {
      if (body.reason === 'too_large') return errorResponse(c, 413, 'body_too_large', tooLarge)
      return errorResponse(c, 400, 'unreadable_body', 'the request body could not be read')
    }
    if (!(await verifyMac({ secret, method: c.req.method, path, body: body.bytes }, checked))) return unauthorized('signature mismatch')
    const nowSeconds = Math.floor(now() / 1000)
    const admission = guard.admit(checked.nonce, checked.timestamp, nowSeconds)
    if (admission === 'replayed') {
      onReject?.(`nonce ${checked.nonce} already used`, path)
      return errorResponse(c, 401, 'replayed_request', 'this signed request was already received')
    }
    if (admission === 'full') {
      onReject?.(`replay guard full (${guard.maxEntries} nonces)`, path)
      c.header('retry-after', String(guard.retryAfterSeconds(nowSeconds)))
      return errorResponse(c, 503, 'replay_guard_full', 'too many signed requests in the window, try again shortly')
    }
    // The stream is spent: the route reads the verified bytes (as hono/body-limit hands a body on).
    if (c.req.raw.body) c.req.raw = new Request(c.req.raw, { body: body.bytes })
    await next()
  }
}
