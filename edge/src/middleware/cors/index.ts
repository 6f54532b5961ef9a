import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'

/**
 * Response headers a browser script may read: the request id, the cache verdict, the IETF rate-limit
 * headers, Retry-After, the job and idempotency headers, and the image range headers.
 */
export const EXPOSED_HEADERS = [
  'x-request-id',
  'x-cache',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
  'Idempotent-Replayed',
  'Preference-Applied',
  'Location',
  'Content-Range',
  'Accept-Ranges',
  'ETag',
] as const

/** Request headers a browser script may send to the API (its preflight allows exactly these). */
export const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'Prefer', 'Cache-Control', 'Pragma', 'X-Request-Id', 'Range', 'If-None-Match', 'If-Range', 'If-Modified-Since'] as const

/** The CORS headers of a public resource (the image URLs), for responses built by hand. */
export const PUBLIC_CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
} as const

/**
 * CORS for the public API: any origin (keys travel as bearer tokens, never as cookies, so there are no
 * credentials for another site to ride on), the preflight answered with 204 before any configuration,
 * authentication or storage is touched, and the headers above readable from scripts.
 *
 * @example app.use('/v1/*', apiCors())
 */
export function apiCors(): MiddlewareHandler {
  return cors({
    origin: '*',
    allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: [...ALLOWED_HEADERS],
    exposeHeaders: [...EXPOSED_HEADERS],
    maxAge: 86_400,
  })
}
