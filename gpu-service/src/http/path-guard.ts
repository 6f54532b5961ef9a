import type { MiddlewareHandler } from 'hono'
import { errorResponse } from './errors.ts'

/**
 * Refuses request targets that a URL parser would rewrite before routing. `new URL()` (which
 * @hono/node-server uses) resolves `.` and `..` segments, including percent-encoded ones (`%2e`,
 * any case), so `/internal/../metrics` used to reach `/metrics` while looking like `/internal/*`;
 * and an encoded slash (`%2f`) or backslash can make the router and the middleware disagree on
 * where one segment ends. None of these has a legitimate use on the service's API, so they are
 * refused on the raw target with a 400, before routing.
 */
export function unsafeTargetReason(target: string): string | undefined {
  if (!target.startsWith('/')) return 'not an origin-form target'
  const path = target.split('?', 1)[0]!
  if (/%2f|%5c|\\/i.test(path)) return 'encoded slash or backslash in the path'
  const segments = path.replace(/%2e/gi, '.').split('/')
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'dot segment in the path'
  return undefined
}

/**
 * Middleware for the main listener: checks the request line's target as the client sent it (Node's
 * `incoming.url`; under `app.request()` in tests, the URL's path and query).
 */
export function pathGuard(): MiddlewareHandler<{ Bindings: { incoming?: { url?: string } } }> {
  return async function guardPath(c, next) {
    const url = new URL(c.req.url)
    const target = c.env?.incoming?.url ?? url.pathname + url.search
    const reason = unsafeTargetReason(target)
    if (reason) return errorResponse(c, 400, 'invalid_path', `request path refused: ${reason}`)
    await next()
  }
}
