import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createApp } from '../app.ts'
import { METHODS } from './openapi-document.ts'

type Response = { $ref?: string; description: string; headers?: Record<string, { $ref?: string }>; content?: Record<string, { schema?: { $ref?: string } }> }
type Operation = { operationId?: string; tags?: string[]; security?: unknown[]; responses: Record<string, Response> }
type Document = {
  openapi: string
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>
  components: { headers: Record<string, unknown>; schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> }
}

async function document(): Promise<Document> {
  const response = await exports.default.fetch('https://api.test/openapi.json')
  expect(response.status).toBe(200)
  return response.json<Document>()
}

/** Every operation of the document as `[method, path, operation]`. */
function operations(doc: Document): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.flatMap((method) => (item[method] ? [[method, path, item[method]] as [string, string, Operation]] : [])))
}

/** The app's own routes under /v1 and /admin, as OpenAPI names them (`:id` → `{id}`); middleware (`use`, method ALL) aside. */
function registeredRoutes(): string[] {
  const routes = createApp().routes.filter((r) => r.method !== 'ALL' && /^\/(v1|admin)\//.test(r.path))
  return [...new Set(routes.map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`))].sort()
}

describe('/openapi.json', () => {
  it('is an OpenAPI 3.1.0 document describing every method of every /v1 and /admin route the app registers', async () => {
    const doc = await document()
    expect(doc.openapi).toBe('3.1.0')
    const described = new Set(operations(doc).map(([method, path]) => `${method} ${path}`))
    const registered = registeredRoutes()
    expect(registered).toEqual(expect.arrayContaining(['post /v1/images/generations', 'get /v1/images/{file}', 'get /v1/models', 'get /v1/models/{id}', 'get /v1/usage', 'post /admin/keys', 'get /admin/keys', 'delete /admin/keys/{id}']))
    expect(registered.filter((route) => !described.has(route))).toEqual([])
    // …and describes nothing else (HEAD is answered by each GET route).
    const answered = new Set(registered)
    expect([...described].filter((route) => !answered.has(route.replace(/^head /, 'get ')))).toEqual([])
    expect(described).toContain('head /v1/images/{file}')
  })

  it('gives every answer its x-request-id, every error the Error schema, every 429/503 Retry-After, and the generation its x-cache and quota headers', async () => {
    const doc = await document()
    expect(Object.keys(doc.components.headers).sort()).toEqual(['CacheControl', 'GenerationCache', 'ImageCache', 'RateLimit', 'RateLimitPolicy', 'RequestId', 'RetryAfter'])
    for (const [method, path, operation] of operations(doc)) {
      const where = `${method} ${path}`
      expect(operation.tags?.length, where).toBeGreaterThan(0)
      expect(Object.keys(operation.responses), where).toContain('500')
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(response.headers?.['x-request-id'], `${where} ${status}`).toEqual({ $ref: '#/components/headers/RequestId' })
        if (status === '429' || status === '503') expect(response.headers?.['Retry-After'], `${where} ${status}`).toEqual({ $ref: '#/components/headers/RetryAfter' })
        if (Number(status) >= 400 && method !== 'head') {
          expect(response.content?.['application/json']?.schema, `${where} ${status}`).toEqual({ $ref: '#/components/schemas/Error' })
        }
      }
    }
    const generation = doc.paths['/v1/images/generations']!.post!
    expect(generation.responses['200']!.headers).toMatchObject({
      'x-cache': { $ref: '#/components/headers/GenerationCache' },
      RateLimit: { $ref: '#/components/headers/RateLimit' },
      'RateLimit-Policy': { $ref: '#/components/headers/RateLimitPolicy' },
    })
    expect(generation.responses['429']!.headers).toMatchObject({ RateLimit: {}, 'RateLimit-Policy': {}, 'Retry-After': {} })
    expect(generation.responses['400']!.headers).not.toHaveProperty('RateLimit')
    expect(Object.keys(generation.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '404', '413', '415', '429', '500', '502', '503', '504']))
    expect(doc.paths['/v1/images/{file}']!.get!.responses['200']!.headers).toMatchObject({ 'x-cache': { $ref: '#/components/headers/ImageCache' } })
  })

  it('names the credentials: API keys on /v1 routes that need one, the admin token on /admin', async () => {
    const doc = await document()
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'bearerAuth'])
    for (const [method, path, operation] of operations(doc)) {
      if (path.startsWith('/admin/')) expect(operation.security, `${method} ${path}`).toEqual([{ adminToken: [] }])
    }
    expect(doc.paths['/v1/models']!.get!.security).toBeUndefined()
    expect(doc.paths['/v1/usage']!.get!.security).toEqual([{ bearerAuth: [] }])
  })
})
