import { errorBody } from '@snoopi/gpu-service/contract/error-body'
import { Hono } from 'hono'
import type { EdgeEnv } from '../edge-env.ts'
import { IMMUTABLE_CACHE_CONTROL, ImageStore, type ImageExtension } from '../cache/image-store.ts'
import { ApiError } from '../errors/api-error.ts'
import { PUBLIC_CORS } from '../middleware/cors/index.ts'
import { ifRangeHolds, parseRange } from './byte-range.ts'

/** `<id>.<ext>`: a 32-hex image id and one of the stored formats; anything else is a 404 before any read. */
const IMAGE_FILE = /^([0-9a-f]{32})\.(png|webp|jpeg)$/

const CONTENT_TYPES: Record<ImageExtension, string> = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' }

/** Headers a cached response keeps; everything else (e.g. the cache's own) is dropped. */
const KEPT_HEADERS = ['content-type', 'content-length', 'cache-control', 'etag', 'last-modified'] as const
/** Headers a 304 carries (RFC 9110 §15.4.5). */
const NOT_MODIFIED_HEADERS = ['cache-control', 'etag', 'last-modified'] as const

/**
 * `GET|HEAD /v1/images/{id}.{ext}`: the public, immutable CDN URL of a generated image. No auth: the
 * id is a keyed hash, so URLs cannot be guessed from a prompt. Served from the colo's Cache API when
 * there (`x-cache: HIT`), else from R2 (`x-cache: MISS`), and then put into the cache after the answer
 * (`waitUntil`). The Cache API is a no-op on workers.dev and best effort everywhere: a failing match
 * or put only costs an R2 read. `If-None-Match` (and, without it, `If-Modified-Since`) → 304; a single
 * `Range` → 206 (416 past the end; `If-Range` honoured), for browsers and players that resume or seek.
 *
 * @example app.route('/', imageRoutes)
 */
export const imageRoutes = new Hono<EdgeEnv>().get('/v1/images/:file', async (c) => {
  const match = IMAGE_FILE.exec(c.req.param('file'))
  if (!match) throw notFound()
  const id = match[1] as string
  const ext = match[2] as ImageExtension
  const request = c.req.raw
  const head = request.method === 'HEAD'

  // Keyed by the canonical URL: not the one asked for, so neither a query string nor a percent-encoded
  // spelling of the same id (`%61…`) can bypass (or flood) the cache with entries of its own.
  const cacheKey = new Request(`${new URL(request.url).origin}/v1/images/${id}.${ext}`, { method: 'GET' })

  const cached = await caches.default.match(cacheKey).catch((error: unknown) => {
    console.warn('image cache: match failed', error)
    return undefined
  })
  if (cached) {
    const headers = new Headers()
    for (const name of KEPT_HEADERS) {
      const value = cached.headers.get(name)
      if (value !== null) headers.set(name, value)
    }
    if (head || notModified(request, headers)) {
      await cached.body?.cancel()
      return answer(request, headers, null, 'HIT')
    }
    return answer(request, headers, wantsRange(request) ? new Uint8Array(await cached.arrayBuffer()) : cached.body, 'HIT')
  }

  const store = new ImageStore(c.env.IMAGES)
  if (head) {
    const object = await store.headImage(id, ext)
    if (!object) throw notFound()
    return answer(request, imageHeaders(object, ext), null, 'MISS')
  }
  const object = await store.getImage(id, ext)
  if (!object) throw notFound()
  const headers = imageHeaders(object, ext)
  const full = new Response(object.body, { headers })
  let served: Response
  if (notModified(request, headers)) served = answer(request, headers, null, 'MISS')
  else if (wantsRange(request)) served = answer(request, headers, new Uint8Array(await full.clone().arrayBuffer()), 'MISS')
  else served = answer(request, headers, full.clone().body, 'MISS')
  c.executionCtx.waitUntil(
    caches.default.put(cacheKey, full).catch((error: unknown) => {
      console.warn('image cache: put failed', error)
    }),
  )
  return served
})

function imageHeaders(object: R2Object, ext: ImageExtension): Headers {
  return new Headers({
    'content-type': object.httpMetadata?.contentType ?? CONTENT_TYPES[ext],
    'content-length': String(object.size),
    'cache-control': IMMUTABLE_CACHE_CONTROL,
    etag: object.httpEtag,
    'last-modified': object.uploaded.toUTCString(),
  })
}

const wantsRange = (request: Request) => request.headers.has('range')

/**
 * 304 when the client's copy is current; 206 with the asked byte range when the body is given as bytes
 * and the request has a satisfiable `Range` (416 when it cannot be satisfied); else 200 with `body`.
 * Every answer allows any origin (images are public) and says it accepts ranges.
 */
function answer(request: Request, headers: Headers, body: ReadableStream | Uint8Array | null, cache: 'HIT' | 'MISS'): Response {
  const out = new Headers({ 'x-cache': cache, 'x-content-type-options': 'nosniff', 'accept-ranges': 'bytes', ...PUBLIC_CORS })
  if (notModified(request, headers)) {
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = headers.get(name)
      if (value !== null) out.set(name, value)
    }
    return new Response(null, { status: 304, headers: out })
  }
  headers.forEach((value, name) => out.set(name, value))
  if (body instanceof Uint8Array && ifRangeHolds(request, headers.get('etag'), headers.get('last-modified'))) {
    const range = parseRange(request.headers.get('range'), body.byteLength)
    if (range === 'unsatisfiable') {
      out.delete('content-length')
      out.set('content-range', `bytes */${body.byteLength}`)
      out.set('content-type', 'application/json')
      return new Response(JSON.stringify(errorBody(416, 'range_not_satisfiable', `the image has ${body.byteLength} bytes`)), { status: 416, headers: out })
    }
    if (range) {
      out.set('content-range', `bytes ${range.start}-${range.end}/${body.byteLength}`)
      out.set('content-length', String(range.end - range.start + 1))
      return new Response(body.slice(range.start, range.end + 1), { status: 206, headers: out })
    }
  }
  return new Response(body, { status: 200, headers: out })
}

/** RFC 9110 §13.1.2–3: weak comparison of If-None-Match; If-Modified-Since only without it. */
function notModified(request: Request, headers: Headers): boolean {
  const ifNoneMatch = request.headers.get('if-none-match')
  const etag = headers.get('etag')
  if (ifNoneMatch !== null) {
    if (etag === null) return false
    const ours = weak(etag)
    return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || weak(tag.trim()) === ours)
  }
  const ifModifiedSince = request.headers.get('if-modified-since')
  const lastModified = headers.get('last-modified')
  if (ifModifiedSince === null || lastModified === null) return false
  const since = Date.parse(ifModifiedSince)
  return !Number.isNaN(since) && Date.parse(lastModified) <= since
}

function weak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

function notFound(): ApiError {
  return new ApiError(404, { code: 'not_found', message: 'no such image' })
}
