import { Hono, type Context } from 'hono'
import { ApiError } from '../errors/api-error.ts'

type PagesEnv = { Bindings: { ASSETS?: Fetcher; PUBLIC_BASE_URL?: string } }

/** The pages and the file each one is (in edge/public, the `[assets]` directory of wrangler.toml). */
export const PAGES = { '/': '/index.html', '/playground': '/playground.html', '/docs': '/docs.html' } as const

/** Where the pages' scripts, styles and icon live (`/static/<name>`, one folder level, no dot files). */
const STATIC_FILE = /^\/static\/[a-z0-9-]+\.(js|css|svg)$/

/**
 * The pages' Content-Security-Policy: nothing but this origin (no CDN, no inline script or `eval`,
 * DOM sinks behind Trusted Types, which the pages never use), no plugins, no `<base>`, no framing.
 * `imageOrigins` are added to `img-src`: the origin of image URLs when it is not the page's
 * (PUBLIC_BASE_URL, used by jobs).
 */
export function contentSecurityPolicy(imageOrigins: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${["'self'", ...imageOrigins].join(' ')}`,
    "connect-src 'self'",
    "form-action 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ')
}

function imageOrigins(publicBaseUrl: string | undefined, pageOrigin: string): string[] {
  if (!publicBaseUrl) return []
  try {
    const origin = new URL(publicBaseUrl).origin
    return origin === pageOrigin || origin === 'null' ? [] : [origin]
  } catch {
    return []
  }
}

/** Answers with the asset at `path` (its ETag, Cache-Control and 304s are the asset server's), plus the pages' security headers. */
async function serve(c: Context<PagesEnv>, path: string): Promise<Response> {
  const assets = c.env.ASSETS
  if (!assets) throw new ApiError(500, { code: 'misconfigured', message: 'the service is misconfigured', internal: 'no ASSETS binding ([assets] in wrangler.toml)' })
  const url = new URL(c.req.url)
  const asset = await assets.fetch(new Request(new URL(path, url.origin), { method: c.req.method, headers: c.req.raw.headers }))
  if (asset.status === 404) throw new ApiError(404, { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` })
  const response = new Response(asset.body, asset)
  const headers = response.headers
  headers.set('content-security-policy', contentSecurityPolicy(imageOrigins(c.env.PUBLIC_BASE_URL, url.origin)))
  headers.set('x-content-type-options', 'nosniff')
  headers.set('referrer-policy', 'no-referrer')
  headers.set('cross-origin-opener-policy', 'same-origin')
  headers.set('cross-origin-resource-policy', 'same-origin')
  headers.set('x-frame-options', 'DENY')
  return response
}

/**
 * `GET|HEAD /` (a landing page), `/playground` and `/docs` (the API reference, rendered in the page
 * from `/openapi.json`), and their files under `/static/`: plain files from edge/public, served
 * through the worker (`run_worker_first`) so that every one carries the CSP above. Nothing to build.
 *
 * @example app.route('/', pageRoutes)
 */
export const pageRoutes = new Hono<PagesEnv>()
for (const [route, file] of Object.entries(PAGES)) pageRoutes.get(route, (c) => serve(c, file))
pageRoutes.get('/static/:file', (c) => {
  const path = new URL(c.req.url).pathname
  if (!STATIC_FILE.test(path)) throw new ApiError(404, { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` })
  return serve(c, path)
})
