import type { PlanName } from './plans.ts'

/** What a key may do. `requireScope()` checks them per route. */
export const SCOPES = ['images:generate', 'usage:read'] as const
export type Scope = (typeof SCOPES)[number]

/**
 * Whose cache a key's generations use. `shared` (the default): one cache for every shared key, so
 * identical requests are generated once for all. `private`: the key's own namespace, so no other key
 * ever gets a hit from its requests, nor it from theirs.
 */
export const CACHE_SCOPES = ['shared', 'private'] as const
export type CacheScope = (typeof CACHE_SCOPES)[number]
export const DEFAULT_CACHE_SCOPE: CacheScope = 'shared'

/** The cache namespace of a key: its scope and, for a `private` one, whose (the key id). */
export interface KeyCacheScope {
  keyId: string
  cacheScope: CacheScope
}

/**
 * A key's record, held only by its Durable Object (never the key itself, nor its hash: the hash is the
 * object's name). Times are Unix seconds.
 */
export interface AccountRecord {
  id: string
  owner: string
  plan: PlanName
  scopes: Scope[]
  createdAt: number
  revokedAt?: number
  /** Absent in records made before scopes existed: those read as `shared`. */
  cacheScope?: CacheScope
}

/** A record's cache namespace (records made before scopes existed are `shared`). */
export function cacheScopeOf(record: AccountRecord): KeyCacheScope {
  return { keyId: record.id, cacheScope: record.cacheScope ?? DEFAULT_CACHE_SCOPE }
}

/** Whether two keys' requests share cache entries: both `shared`, or the same `private` key. */
export function sameCacheNamespace(a: KeyCacheScope, b: KeyCacheScope): boolean {
  return a.cacheScope === b.cacheScope && (a.cacheScope === 'shared' || a.keyId === b.keyId)
}
