import { Hono, type MiddlewareHandler } from 'hono'
import { z } from 'zod'
import { MIN_SECRET_LENGTH } from '@snoopi/gpu-service/contract/request-signature'
import { CACHE_SCOPES, DEFAULT_CACHE_SCOPE, SCOPES } from '../accounts/account-record.ts'
import { DEFAULT_PLAN, PLAN_NAMES } from '../accounts/plans.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { issueKey, listKeys, revokeKey } from '../keys/key-registry.ts'

type AdminEnv = { Bindings: EdgeBindings }

/** Largest body of `POST /admin/keys`. */
export const ADMIN_MAX_BODY_BYTES = 4096
const MAX_BODY_BYTES = ADMIN_MAX_BODY_BYTES
const owner = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters')

/** The body of `POST /admin/keys` (also its OpenAPI description). */
export const createKeyBody = z.strictObject({
  owner,
  plan: z.enum(PLAN_NAMES).default(DEFAULT_PLAN),
  scopes: z.array(z.enum(SCOPES)).min(1, 'must name at least one scope').max(16).default([...SCOPES]),
  cache_scope: z.enum(CACHE_SCOPES).default(DEFAULT_CACHE_SCOPE),
})

function badRequest(code: string, message: string): ApiError {
  return new ApiError(400, { code, message })
}

function invalid(error: z.ZodError): ApiError {
  return badRequest('invalid_request', error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '))
}

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
}

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` — a credential of its own, unrelated to API keys. Compared in
 * constant time (over SHA-256 digests, so not even the length leaks). A missing or short ADMIN_TOKEN
 * binding is a 500 (misconfigured), never an open door.
 */
function adminAuth(): MiddlewareHandler<AdminEnv> {
  return async function adminAuthMiddleware(c, next) {
    const expected = c.env.ADMIN_TOKEN
    if (typeof expected !== 'string' || expected.length < MIN_SECRET_LENGTH) {
      throw new ApiError(500, { code: 'misconfigured', message: 'the service is misconfigured', internal: 'ADMIN_TOKEN is missing or too short' })
    }
    const given = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? ''
    const [a, b] = await Promise.all([sha256(given), sha256(expected)])
    if (!crypto.subtle.timingSafeEqual(a, b)) {
      throw new ApiError(401, {
        type: 'authentication_error',
        code: 'invalid_admin_token',
        message: 'This route needs the admin token (Authorization: Bearer <ADMIN_TOKEN>).',
        headers: { 'WWW-Authenticate': 'Bearer realm="snoopi-admin"' },
      })
    }
    await next()
  }
}

async function jsonBody(request: Request): Promise<unknown> {
  if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) throw badRequest('body_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`)
  const text = await request.text()
  if (new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES) throw badRequest('body_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`)
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw badRequest('invalid_json', 'the body is not valid JSON')
  }
}

/**
 * Key management behind the admin token:
 * - `POST /admin/keys {owner, plan?, scopes?, cache_scope?}` → 201 `{id, key, owner, plan, scopes,
 *   cache_scope, created_at, revoked_at}`; the key appears in this answer only (only its hash is
 *   stored); `cache_scope` is `shared` (default) or `private` (see `CacheScope`), fixed at creation;
 * - `GET /admin/keys[?owner=]` → `{object: 'list', data: [{id, owner, plan, scopes, cache_scope, created_at, revoked_at}]}`;
 * - `DELETE /admin/keys/:id` → 200 with the revoked key's listing; 404 for an unknown id.
 *
 * Revocation asks the key's Durable Object first; authentication always asks that object (never the
 * KV index), so the very next request with the key is refused.
 */
export const adminKeyRoutes = new Hono<AdminEnv>()
  .use('/admin/*', adminAuth())
  .post('/admin/keys', async (c) => {
    const parsed = createKeyBody.safeParse(await jsonBody(c.req.raw))
    if (!parsed.success) throw invalid(parsed.error)
    const { cache_scope: cacheScope, ...rest } = parsed.data
    return c.json(await issueKey(c.env, { ...rest, cacheScope }), 201)
  })
  .get('/admin/keys', async (c) => {
    const filter = c.req.query('owner')
    let ownerFilter: string | undefined
    if (filter !== undefined) {
      const parsed = owner.safeParse(filter)
      if (!parsed.success) throw badRequest('invalid_request', `owner: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`)
      ownerFilter = parsed.data
    }
    return c.json({ object: 'list', data: await listKeys(c.env, ownerFilter === undefined ? {} : { owner: ownerFilter }) })
  })
  .delete('/admin/keys/:id', async (c) => {
    const listing = await revokeKey(c.env, c.req.param('id'))
    if (!listing) throw new ApiError(404, { code: 'key_not_found', message: 'no key with this id' })
    return c.json(listing)
  })
