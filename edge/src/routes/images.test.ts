import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { EdgeBindings } from '../config/edge-config.ts'
import type { EdgeEnv } from '../edge-env.ts'
import { ImageStore, IMMUTABLE_CACHE_CONTROL } from '../cache/image-store.ts'
import { IMAGES, randomHex, recordingBucket } from '../testing/buckets.ts'
import { errorHandler, notFoundHandler } from '../errors/error-handler.ts'
import { imageRoutes } from './images.ts'

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])

// The route mounted the way app.ts mounts it, with the app's error handlers; the R2 binding is the
// real one (or a recording wrapper around it).
const app = new Hono<EdgeEnv>().route('/', imageRoutes)
app.onError(errorHandler)
app.notFound(notFoundHandler)

async function fetchImage(path: string, init: RequestInit = {}, bucket: R2Bucket = IMAGES): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await app.request(`https://cdn.test${path}`, init, { IMAGES: bucket } satisfies Partial<EdgeBindings>, ctx)
  await waitOnExecutionContext(ctx) // the cache put has finished
  return response
}

async function storeImage(ext: 'png' | 'webp' = 'png', contentType = 'image/png'): Promise<string> {
  const id = randomHex(32)
  await new ImageStore(IMAGES).putGeneration(randomHex(64), { created: 1_764_000_000, model: 'snoopi-default', version: 'test-v1' }, [
    { id, ext, bytes: png, contentType, seed: 7n },
  ])
  return id
}

describe('GET /v1/images/{id}.{ext}', () => {
  it('serves a stored image with immutable caching headers', async () => {
    const id = await storeImage()
    const object = await IMAGES.head(`images/${id}.png`)
    const response = await fetchImage(`/v1/images/${id}.png`)
    expect(response.status).toBe(200)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(png)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(response.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL)
    expect(response.headers.get('etag')).toBe(object?.httpEtag)
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/)
    expect(response.headers.get('last-modified')).toBe(object?.uploaded.toUTCString())
    expect(response.headers.get('content-length')).toBe(String(png.byteLength))
    expect(response.headers.get('x-cache')).toBe('MISS')
  })

  it('answers a matching If-None-Match with 304 and no body', async () => {
    const id = await storeImage()
    const etag = (await fetchImage(`/v1/images/${id}.png`)).headers.get('etag') as string
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const response = await fetchImage(`/v1/images/${id}.png`, { headers: { 'if-none-match': ifNoneMatch } })
      expect(response.status).toBe(304)
      expect(await response.text()).toBe('')
      expect(response.headers.get('etag')).toBe(etag)
      expect(response.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL)
    }
    const stale = await fetchImage(`/v1/images/${id}.png`, { headers: { 'if-none-match': '"other"' } })
    expect(stale.status).toBe(200)
    expect(new Uint8Array(await stale.arrayBuffer())).toEqual(png)
  })

  it('answers 304 to a cold If-None-Match too (served from R2, not the cache)', async () => {
    const id = await storeImage()
    const etag = (await IMAGES.head(`images/${id}.png`))?.httpEtag as string
    const response = await fetchImage(`/v1/images/${id}.png`, { headers: { 'if-none-match': etag } })
    expect(response.status).toBe(304)
    expect(response.headers.get('x-cache')).toBe('MISS')
  })

  it('serves the next request from the Cache API, even with a query string', async () => {
    const id = await storeImage()
    expect((await fetchImage(`/v1/images/${id}.png`)).headers.get('x-cache')).toBe('MISS')
    const { bucket, calls } = recordingBucket()
    const again = await fetchImage(`/v1/images/${id}.png?bust=1`, {}, bucket)
    expect(again.status).toBe(200)
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(again.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL)
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(png)
    expect(calls).toHaveLength(0)
  })

  it('keys the Cache API by the canonical URL: a percent-encoded spelling of the id is the same entry', async () => {
    const id = await storeImage()
    expect((await fetchImage(`/v1/images/${id}.png`)).headers.get('x-cache')).toBe('MISS')
    const encoded = [...id].map((char, i) => (i % 2 === 0 ? `%${char.charCodeAt(0).toString(16)}` : char)).join('')
    const { bucket, calls } = recordingBucket()
    const again = await fetchImage(`/v1/images/${encoded}.%70ng`, {}, bucket)
    expect(again.status).toBe(200)
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(calls).toHaveLength(0)
    expect(await caches.default.match(`https://cdn.test/v1/images/${encoded}.%70ng`)).toBeUndefined()
  })

  it.each([
    ['from R2', false],
    ['from the Cache API', true],
  ])('answers a byte range with 206 %s, 416 past the end, and the whole image when If-Range no longer matches', async (_name, warm) => {
    const id = await storeImage()
    const path = `/v1/images/${id}.png`
    if (warm) expect((await fetchImage(path)).headers.get('x-cache')).toBe('MISS')
    const part = await fetchImage(path, { headers: { range: 'bytes=1-3' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 1-3/${png.byteLength}`)
    expect(part.headers.get('content-length')).toBe('3')
    expect(part.headers.get('accept-ranges')).toBe('bytes')
    expect(part.headers.get('x-cache')).toBe(warm ? 'HIT' : 'MISS')
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(png.slice(1, 4))
    const suffix = await fetchImage(path, { headers: { range: 'bytes=-2' } })
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(png.slice(-2))
    const past = await fetchImage(path, { headers: { range: `bytes=${png.byteLength}-` } })
    expect(past.status).toBe(416)
    expect(past.headers.get('content-range')).toBe(`bytes */${png.byteLength}`)
    expect((await past.json<{ error: { code: string } }>()).error.code).toBe('range_not_satisfiable')
    const stale = await fetchImage(path, { headers: { range: 'bytes=1-3', 'if-range': '"another-etag"' } })
    expect(stale.status).toBe(200)
    expect(new Uint8Array(await stale.arrayBuffer())).toEqual(png)
  })

  it('lets any origin read the image and its headers', async () => {
    const id = await storeImage()
    const response = await fetchImage(`/v1/images/${id}.png`, { headers: { origin: 'https://app.example' } })
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('access-control-expose-headers')).toMatch(/content-range/i)
    await response.arrayBuffer()
  })

  it('supports HEAD', async () => {
    const id = await storeImage('webp', 'image/webp')
    const response = await fetchImage(`/v1/images/${id}.webp`, { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/webp')
    expect(response.headers.get('content-length')).toBe(String(png.byteLength))
    expect(await response.text()).toBe('')
  })

  it('answers an unknown id with a 404 in the OpenAI error shape', async () => {
    const { bucket, calls } = recordingBucket()
    const response = await fetchImage(`/v1/images/${randomHex(32)}.png`, {}, bucket)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: { type: 'invalid_request_error', code: 'not_found', message: 'no such image' } })
    expect(calls.filter((call) => call.phase === 'start').map((call) => call.method)).toEqual(['get'])
  })

  it('does not serve an image under another extension', async () => {
    const id = await storeImage()
    expect((await fetchImage(`/v1/images/${id}.webp`)).status).toBe(404)
  })

  it.each([
    ['a short id', `${'a'.repeat(31)}.png`],
    ['a long id', `${'a'.repeat(33)}.png`],
    ['upper-case hex', `${'A'.repeat(32)}.png`],
    ['a non-hex id', `${'g'.repeat(32)}.png`],
    ['an unknown extension', `${'a'.repeat(32)}.gif`],
    ['no extension', 'a'.repeat(32)],
    ['a double extension', `${'a'.repeat(32)}.png.png`],
    ['an encoded path', '..%2Frequests%2Fx.png'],
    ['the generations endpoint', 'generations'],
  ])('answers %s with a 404 before touching R2', async (_name, file) => {
    const { bucket, calls } = recordingBucket()
    const response = await fetchImage(`/v1/images/${file}`, {}, bucket)
    expect(response.status).toBe(404)
    expect(await response.json<{ error: { code: string } }>()).toMatchObject({ error: { code: 'not_found' } })
    expect(calls).toHaveLength(0)
  })
})
