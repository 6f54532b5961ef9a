import type { PlanName } from './plans.ts'

/** What a key may do. `requireScope()` checks them per route. */
export const SCOPES = ['images:generate', 'usage:read'] as const
export type Scope = (typeof SCOPES)[number]

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
}
