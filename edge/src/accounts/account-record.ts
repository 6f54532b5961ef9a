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
