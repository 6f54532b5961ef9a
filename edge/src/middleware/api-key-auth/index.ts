import type { Context, MiddlewareHandler } from 'hono'
import { cacheScopeOf, type AccountRecord, type CacheScope, type KeyCacheScope, type Scope } from '../../accounts/account-record.ts'
import type { Admission } from '../../accounts/admission.ts'
import { accountStub, type KeyAccountStub } from '../../accounts/account-stub.ts'
import type { EdgeBindings } from '../../config/edge-config.ts'
import { ApiError } from '../../errors/api-error.ts'
import { keyHash, parseApiKey } from '../../keys/api-key.ts'
import { cacheScopeHints } from './cache-scope-hints.ts'
import { UnknownKeyLimit } from './unknown-key-limit.ts'

/** The authenticated key of a request: its public id, owner, plan, scopes and its Durable Object. */
export interface Account {
  keyId: string
  owner: string
  plan: AccountRecord['plan']
  scopes: Scope[]
  cacheScope: CacheScope
  stub: KeyAccountStub
}

export type AccountVariables = { account: Account; admission?: Admission }

export interface ApiKeyAuthOptions {
  /** The realm named in `WWW-Authenticate` on a 401. Default `snoopi`. */
  realm?: string
  /**
   * Also check this scope and admit the request (rate limit, concurrency) in the same Durable Object
   * call; `rateLimit()` then uses that admission instead of asking again. Saves a round trip on the
   * hot path. Default: authenticate only.
   */
  admitFor?: Scope
  /**
   * With `admitFor`: whether the request is already answered in the cache, looked up before the
   * Durable Object call under `scope`, the cache scope this isolate last saw the key authenticate with
   * (only asked when there is such a hint). True: the call is `KeyAccount.enterHit`, which admits the
   * request as a cache hit (no concurrency slot; the hit counted in the same write) if `scope` is the
   * key's, and as any request otherwise (the admission then has a slot and no `cacheHit`).
   */
  lookUpHit?: (c: Context, scope: KeyCacheScope) => Promise<boolean>
}

/** One per isolate, shared by every route: a key that authenticated on one route is known on all. */
const unknownKeys = new UnknownKeyLimit()

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

function unauthorized(realm: string, message: string, internal?: string): ApiError {
  return new ApiError(401, {
    type: 'authentication_error',
    code: 'invalid_api_key',
    message,
    ...(internal ? { internal } : {}),
    headers: { 'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_token"` },
  })
}

/**
 * Authenticates `Authorization: Bearer <API key>` and sets `c.get('account')`.
 *
 * A missing or malformed key (wrong prefix, length, charset or checksum) is refused with 401 before
 * any storage is touched. A well-formed key is looked up in its own Durable Object — never in KV —
 * so a revocation takes effect on the very next request (Durable Objects are strongly consistent).
 * Lookups of keys not seen authenticate lately spend the client IP's `AUTH_LIMITER` budget (429
 * `too_many_unknown_keys` once it is gone; see `unknown-key-limit.ts`). Every key that authenticates
 * leaves its cache scope as a hint for `lookUpHit` (see `cache-scope-hints.ts`); the Durable Object
 * still answers every request, so a hint never decides whether a key is valid or what it may read.
 *
 * @example app.post('/v1/images/generations', apiKeyAuth(), requireScope('images:generate'), rateLimit(), handler)
 */
export function apiKeyAuth({ realm = 'snoopi', admitFor, lookUpHit }: ApiKeyAuthOptions = {}): MiddlewareHandler<{
  Bindings: EdgeBindings
  Variables: AccountVariables
}> {
  if (!/^[\x21\x23-\x5b\x5d-\x7e ]+$/.test(realm)) throw new TypeError('apiKeyAuth: realm must be a printable ASCII token without quotes')
  return async function apiKeyAuthMiddleware(c, next) {
    const header = c.req.header('authorization')
    const token = header ? BEARER.exec(header)?.[1] : undefined
    if (!token) {
      throw unauthorized(
        realm,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      )
    }
    const parsed = await parseApiKey(token)
    if (!parsed.ok) throw unauthorized(realm, 'Incorrect API key provided.', `malformed key (${parsed.reason})`)

    const hash = await keyHash(parsed.key)
    await unknownKeys.admit(c.env.AUTH_LIMITER, hash, c.req.header('cf-connecting-ip'))
    const stub = accountStub(c.env, hash)
    const hint = admitFor && lookUpHit ? cacheScopeHints.get(hash) : undefined
    const hit = hint !== undefined && lookUpHit !== undefined && (await lookUpHit(c, hint))
    const entered = !admitFor
      ? { record: await stub.authenticate(), admission: undefined }
      : hit
        ? await stub.enterHit(admitFor, hint)
        : await stub.enter(admitFor)
    const record = entered?.record
    unknownKeys.settle(hash, record !== undefined && record !== null)
    if (!record) {
      cacheScopeHints.forget(hash)
      throw unauthorized(realm, 'Incorrect API key provided.', 'unknown or revoked key')
    }
    const scope = cacheScopeOf(record)
    cacheScopeHints.learn(hash, scope)
    c.set('account', { keyId: record.id, owner: record.owner, plan: record.plan, scopes: record.scopes, cacheScope: scope.cacheScope, stub })
    if (admitFor) {
      if (!entered.admission) throw insufficientScope(admitFor)
      c.set('admission', entered.admission)
    }
    await next()
  }
}

/**
 * Refuses (403 `insufficient_scope`) a key that lacks `scope`. Goes after `apiKeyAuth()`.
 *
 * @example app.get('/v1/usage', apiKeyAuth(), requireScope('usage:read'), handler)
 */
export function requireScope(scope: Scope): MiddlewareHandler<{ Variables: AccountVariables }> {
  return async function requireScopeMiddleware(c, next) {
    if (!c.get('account').scopes.includes(scope)) throw insufficientScope(scope)
    await next()
  }
}

function insufficientScope(scope: Scope): ApiError {
  return new ApiError(403, {
    type: 'authentication_error',
    code: 'insufficient_scope',
    message: `This API key lacks the scope "${scope}" that this operation needs.`,
  })
}
