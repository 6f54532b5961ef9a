import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi'
import type { Env } from 'hono'
import { CACHE_SCOPES, SCOPES } from '../accounts/account-record.ts'
import { PLAN_NAMES } from '../accounts/plans.ts'
import { createKeyBody } from '../routes/admin-keys.ts'
import { generationRoute } from '../routes/generations.ts'
import { errorSchema } from './generation-schema.ts'

/**
 * `/openapi.json`: every `/v1` and `/admin` route of the app, each with its error answers (in the
 * `Error` schema) and the headers it sends as `headers` objects. The generation route is described
 * where it is defined (routes/generations.ts); this module adds the headers its middleware sends,
 * and describes the rest. edge/src/api/openapi-document.test.ts checks that no registered route is
 * missing here.
 */

type RouteConfig = Parameters<typeof createRoute>[0]
type Responses = RouteConfig['responses']
type Response = Responses[string]

const ref = (name: string) => ({ $ref: `#/components/headers/${name}` })

type HeaderName = 'RequestId' | 'GenerationCache' | 'ImageCache' | 'RateLimit' | 'RateLimitPolicy' | 'RetryAfter' | 'CacheControl'

/** The response headers, once, as components (`#/components/headers/<name>`). */
const HEADERS: Record<HeaderName, { description: string; schema: { type: 'string' | 'integer'; enum?: string[]; minimum?: number }; example?: string }> = {
  RequestId: {
    description: 'The request id: the client\'s own `x-request-id` when it is a safe token (1–128 of A–Z a–z 0–9 . _ : -), else a new UUID. On every answer, errors included; quote it when reporting a problem.',
    schema: { type: 'string' },
  },
  GenerationCache: {
    description: '`HIT`: stored images; `COALESCED`: the images an identical request in flight was generating; `MISS`: generated for this request (the only answer charged images).',
    schema: { type: 'string', enum: ['HIT', 'COALESCED', 'MISS'] },
  },
  ImageCache: {
    description: '`HIT`: served from the edge cache; `MISS`: read from storage.',
    schema: { type: 'string', enum: ['HIT', 'MISS'] },
  },
  RateLimit: {
    description: 'What is left of each quota (draft-ietf-httpapi-ratelimit-headers): `"requests";r=<remaining>;t=<seconds to refill>`, and `"images";r=…;t=…` once images were counted.',
    schema: { type: 'string' },
    example: '"requests";r=119;t=1, "images";r=4999;t=18',
  },
  RateLimitPolicy: {
    description: 'The quotas of the key\'s plan: `"requests";q=<per minute>;w=60`, `"images";q=<per day>;w=86400`.',
    schema: { type: 'string' },
    example: '"requests";q=120;w=60, "images";q=5000;w=86400',
  },
  RetryAfter: {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer', minimum: 0 },
  },
  CacheControl: {
    description: 'How long clients and CDNs may keep the answer.',
    schema: { type: 'string' },
  },
}

const NAMES: Record<HeaderName, string> = {
  RequestId: 'x-request-id',
  GenerationCache: 'x-cache',
  ImageCache: 'x-cache',
  RateLimit: 'RateLimit',
  RateLimitPolicy: 'RateLimit-Policy',
  RetryAfter: 'Retry-After',
  CacheControl: 'Cache-Control',
}

/** `headers` of a response: x-request-id always, then `names`. */
function headers(...names: HeaderName[]) {
  return Object.fromEntries((['RequestId', ...names] as HeaderName[]).map((name) => [NAMES[name], ref(name)]))
}

const json = (schema: z.ZodType) => ({ 'application/json': { schema } })

/** An error answer: the `Error` body, x-request-id and `extra` headers. */
function error(description: string, ...extra: HeaderName[]): Response {
  return { description, headers: headers(...extra), content: json(errorSchema) }
}

const internal = error('Internal error (no detail; the request id is logged)')
const unauthorizedKey = error('Missing, malformed, unknown or revoked API key')
const unknownKeys = error('Too many lookups of unknown API keys from this address', 'RetryAfter')
const adminUnauthorized = error('Missing or wrong admin token (WWW-Authenticate: Bearer)')
const upstream = {
  502: error('The image service sent an unexpected answer'),
  503: error('The image service is unavailable', 'RetryAfter'),
  504: error('The image service did not answer in time'),
} satisfies Responses

/** The generation route, with the x-cache of its answers and the refusals of the middleware in front of it. */
function describedGeneration(): RouteConfig {
  const responses: Responses = {}
  for (const [status, response] of Object.entries(generationRoute.responses)) {
    responses[status] = status === '200' ? { ...response, headers: headers('GenerationCache') } : response
  }
  responses['415'] ??= error('The body is not JSON (Content-Type application/json), or it is compressed')
  const route: RouteConfig = generationRoute
  return { ...route, operationId: route.operationId ?? 'createImage', tags: route.tags ?? ['Images'], responses }
}

// ─── Models ───────────────────────────────────────────────────────────────────────────────────────

const modelSchema = z
  .object({
    id: z.string().openapi({ example: 'snoopi-default' }),
    object: z.literal('model'),
    created: z.number().int().openapi({ description: 'Unix seconds' }),
    owned_by: z.string(),
    ready: z.boolean().openapi({ description: 'True once the model is loaded and warmed up' }),
    display_name: z.string().optional(),
    version: z.string().optional(),
    sizes: z.array(z.string()).optional().openapi({ description: 'The sizes it draws (`WIDTHxHEIGHT`); the first is the default' }),
    default_nasa_alpha: z.number().optional().openapi({ description: 'α of its default NASA form' }),
    default_nasa_projection: z.boolean().optional().openapi({ description: 'Whether its default NASA form projects' }),
  })
  .openapi('Model')

const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).openapi('ModelList')

const listModels = createRoute({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  tags: ['Models'],
  summary: 'The models served, with their sizes and NASA defaults (OpenAI `models.list`)',
  description: 'Public (no key). Answered from a per-isolate copy refreshed from the GPU tier; `Cache-Control` says for how long.',
  responses: {
    200: { description: 'The models', headers: headers('CacheControl'), content: json(modelListSchema) },
    ...upstream,
    500: internal,
  },
})

const retrieveModel = createRoute({
  method: 'get',
  path: '/v1/models/{id}',
  operationId: 'retrieveModel',
  tags: ['Models'],
  summary: 'One model (OpenAI `models.retrieve`)',
  description: 'Public (no key).',
  request: { params: z.object({ id: z.string().openapi({ description: 'A model id from /v1/models', example: 'snoopi-default' }) }) },
  responses: {
    200: { description: 'The model', headers: headers('CacheControl'), content: json(modelSchema) },
    404: error('No model with this id (`model_not_found`)'),
    ...upstream,
    500: internal,
  },
})

// ─── Images ───────────────────────────────────────────────────────────────────────────────────────

const imageFile = z.object({
  file: z
    .string()
    .regex(/^[0-9a-f]{32}\.(png|webp|jpeg)$/)
    .openapi({ description: 'A generated image: its 32-hex id and format, as in the `url` of a generation answer', example: '0123456789abcdef0123456789abcdef.png' }),
})
const imageConditions = z.object({
  range: z.string().optional().openapi({ description: 'One byte range (`bytes=0-99`): 206, or 416 past the end' }),
  'if-none-match': z.string().optional().openapi({ description: 'ETags the client has: 304 when one matches' }),
  'if-modified-since': z.string().optional().openapi({ description: 'Without If-None-Match: 304 when not modified since' }),
  'if-range': z.string().optional().openapi({ description: 'Range applies only while this ETag or date still holds' }),
})
const imageBody = { 'image/png': { schema: { type: 'string', format: 'binary' } }, 'image/webp': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } as const

function imageRoute(method: 'get' | 'head') {
  const head = method === 'head'
  return createRoute({
    method,
    path: '/v1/images/{file}',
    operationId: head ? 'headImage' : 'getImage',
    tags: ['Images'],
    summary: head ? 'An image\'s headers without its bytes' : 'A generated image (public, immutable)',
    description: 'No key: the id is a keyed hash, so URLs cannot be guessed from a prompt. `Cache-Control: public, max-age=31536000, immutable`; any origin may read it (CORS).',
    request: { params: imageFile, headers: imageConditions },
    responses: {
      200: { description: 'The image', headers: headers('ImageCache', 'CacheControl'), ...(head ? {} : { content: imageBody }) },
      ...(head ? {} : { 206: { description: 'The asked byte range (Content-Range)', headers: headers('ImageCache', 'CacheControl'), content: imageBody } }),
      304: { description: 'Not modified', headers: headers('ImageCache', 'CacheControl') },
      404: head ? { description: 'No such image', headers: headers() } : error('No such image (`not_found`)'),
      ...(head ? {} : { 416: error('The range is past the end (`range_not_satisfiable`)', 'ImageCache') }),
      500: head ? { description: 'Internal error', headers: headers() } : internal,
    },
  })
}

// ─── Usage ────────────────────────────────────────────────────────────────────────────────────────

const counters = z.object({ images: z.number().int(), cache_hits: z.number().int(), cache_misses: z.number().int(), requests: z.number().int() })
const usageSchema = z
  .object({
    key_id: z.string(),
    plan: z.enum(PLAN_NAMES),
    limits: z.object({ requests_per_minute: z.number().int(), request_burst: z.number().int(), images_per_day: z.number().int(), concurrent_requests: z.number().int() }),
    remaining: z.object({ requests: z.number(), images: z.number() }),
    in_flight: z.number().int(),
    today: counters.extend({ date: z.string().openapi({ description: 'The UTC day, YYYY-MM-DD' }) }),
    total: counters,
  })
  .openapi('Usage')

const getUsage = createRoute({
  method: 'get',
  path: '/v1/usage',
  operationId: 'getUsage',
  tags: ['Usage'],
  summary: "The key's plan limits, what is left now, today's and all-time counters",
  description: 'Needs the scope `usage:read`. Not rate-limited; reading it counts as no request. `images` and `cache_misses` count `x-cache: MISS` answers; `cache_hits` counts HIT and COALESCED.',
  security: [{ bearerAuth: [] }],
  responses: {
    200: { description: 'The usage', headers: headers(), content: json(usageSchema) },
    401: unauthorizedKey,
    403: error('The key lacks the scope `usage:read` (`insufficient_scope`)'),
    429: unknownKeys,
    500: internal,
  },
})

// ─── Admin keys ───────────────────────────────────────────────────────────────────────────────────

const keyListing = z
  .object({
    id: z.string(),
    owner: z.string(),
    plan: z.enum(PLAN_NAMES),
    scopes: z.array(z.enum(SCOPES)),
    cache_scope: z.enum(CACHE_SCOPES).openapi({ description: '`shared`: identical requests of any shared key hit one cache; `private`: this key\'s own' }),
    created_at: z.number().int().openapi({ description: 'Unix seconds' }),
    revoked_at: z.number().int().nullable().openapi({ description: 'Unix seconds; null while the key works' }),
  })
  .openapi('KeyListing')
const issuedKey = keyListing.extend({ key: z.string().openapi({ description: 'The API key: in this answer only (only its hash is stored)', example: 'snp_live_…' }) }).openapi('IssuedKey')

const createKey = createRoute({
  method: 'post',
  path: '/admin/keys',
  operationId: 'createKey',
  tags: ['Admin'],
  summary: 'Create an API key',
  security: [{ adminToken: [] }],
  request: { body: { required: true, content: json(createKeyBody) } },
  responses: {
    201: { description: 'The key, shown this once', headers: headers(), content: json(issuedKey) },
    400: error('Invalid body (`invalid_json`, `invalid_request`, `body_too_large`)'),
    401: adminUnauthorized,
    413: error('Body too large'),
    415: error('The body is not JSON (Content-Type application/json), or it is compressed'),
    500: internal,
  },
})

const listKeys = createRoute({
  method: 'get',
  path: '/admin/keys',
  operationId: 'listKeys',
  tags: ['Admin'],
  summary: 'List API keys (never the keys themselves)',
  security: [{ adminToken: [] }],
  request: { query: z.object({ owner: z.string().optional().openapi({ description: 'Only this owner\'s keys' }) }) },
  responses: {
    200: { description: 'The keys, newest first', headers: headers(), content: json(z.object({ object: z.literal('list'), data: z.array(keyListing) }).openapi('KeyList')) },
    400: error('Invalid owner filter'),
    401: adminUnauthorized,
    500: internal,
  },
})

const revokeKey = createRoute({
  method: 'delete',
  path: '/admin/keys/{id}',
  operationId: 'revokeKey',
  tags: ['Admin'],
  summary: 'Revoke an API key (the very next request with it is refused)',
  security: [{ adminToken: [] }],
  request: { params: z.object({ id: z.string().openapi({ description: 'The key\'s id (from the listing)' }) }) },
  responses: {
    200: { description: "The revoked key's listing", headers: headers(), content: json(keyListing) },
    401: adminUnauthorized,
    404: error('No key with this id (`key_not_found`)'),
    500: internal,
  },
})

/** Every described operation, in the order the docs show them. */
export function describedRoutes(): RouteConfig[] {
  return [describedGeneration(), imageRoute('get'), imageRoute('head'), listModels, retrieveModel, getUsage, createKey, listKeys, revokeKey]
}

export const OPENAPI_CONFIG = {
  openapi: '3.1.0',
  info: {
    title: 'SNOOPI image API',
    version: '1.0.0',
    description:
      'One-step text-to-image with real negative prompts (NASA). OpenAI Images API compatible: point an OpenAI client at `<origin>/v1` and send our fields (`negative_prompt`, `seed`, `guidance`) as extra body fields.\n\nErrors are `{"error": {"type", "message", "code"}}`. Every answer carries `x-request-id`.',
  },
  tags: [
    { name: 'Images', description: 'Generate images and fetch them.' },
    { name: 'Models', description: 'What the GPU tier serves.' },
    { name: 'Usage', description: "An API key's quotas and counters." },
    { name: 'Jobs', description: 'Generations answered later: submit, poll or receive a webhook.' },
    { name: 'Bots', description: 'Generating from chat: Discord, Slack and Telegram commands linked to an API key.' },
    { name: 'Admin', description: 'Key management, behind the ADMIN_TOKEN secret (not an API key).' },
  ],
}

/** Registers the security schemes, the header components and every operation on the app's registry. */
export function describeApi<E extends Env>(app: OpenAPIHono<E>): void {
  const registry = app.openAPIRegistry
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'An API key (snp_live_…)' })
  registry.registerComponent('securitySchemes', 'adminToken', { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN secret' })
  for (const [name, header] of Object.entries(HEADERS)) registry.registerComponent('headers', name, header)
  for (const route of describedRoutes()) registry.registerPath(route)
}

type Document = ReturnType<OpenAPIHono['getOpenAPI31Document']>
type PathItem = NonNullable<Document['paths']>[string]

export const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const

/** Operations behind `rateLimit()`: their answers after the key's admission report the quotas. */
const RATE_LIMITED = new Set(['post /v1/images/generations', 'post /v1/jobs'])
/** What such an operation answers after admission (refusals before it, 400/401/413/415, carry no quota). */
const AFTER_ADMISSION = /^(2\d\d|429|5\d\d)$/

function tagOf(path: string): string {
  if (path.startsWith('/admin/')) return 'Admin'
  if (/^\/v1\/(jobs|webhook-secret)\b/.test(path)) return 'Jobs'
  if (path.startsWith('/v1/bot-links')) return 'Bots'
  const segment = path.split('/')[2] ?? 'other'
  return segment.charAt(0).toUpperCase() + segment.slice(1)
}

/**
 * The OpenAPI 3.1 document of the app: its registry's routes, plus what the middleware adds to every
 * one of them, so that no route can forget it: `x-request-id` on every answer (requestId()), the
 * quota headers on a rate-limited route's answers (rateLimit()), `Retry-After` on every 429 and 503,
 * the 500 any route may answer, and a tag from the path when the route names none.
 */
export function openApiDocument<E extends Env>(app: OpenAPIHono<E>): Document {
  const doc = app.getOpenAPI31Document({ ...OPENAPI_CONFIG, tags: [...OPENAPI_CONFIG.tags] })
  const used = new Set<string>()
  for (const [path, item] of Object.entries<PathItem>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method]
      if (!operation) continue
      operation.tags ??= [tagOf(path)]
      for (const tag of operation.tags) used.add(tag)
      const responses = (operation.responses ??= {}) as Record<string, { $ref?: string; description?: string; headers?: Record<string, unknown> }>
      responses['500'] ??= {
        description: 'Internal error (no detail; the request id is logged)',
        ...(method === 'head' ? {} : { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }),
      }
      for (const [status, response] of Object.entries(responses)) {
        if (response.$ref !== undefined) continue
        const names: HeaderName[] = []
        if (RATE_LIMITED.has(`${method} ${path}`) && AFTER_ADMISSION.test(status)) names.push('RateLimit', 'RateLimitPolicy')
        if (status === '429' || status === '503') names.push('RetryAfter')
        response.headers = { ...headers(...names), ...response.headers }
      }
    }
  }
  const known = new Set(OPENAPI_CONFIG.tags.map((tag) => tag.name))
  doc.tags = [...OPENAPI_CONFIG.tags.filter((tag) => used.has(tag.name)), ...[...used].filter((tag) => !known.has(tag)).map((name) => ({ name }))]
  return doc
}
