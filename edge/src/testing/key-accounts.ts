// Test support for the key-account tests (imported by *.test.ts only; never by the worker).
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { Hono } from 'hono'
import type { EdgeBindings } from '../config/edge-config.ts'
import { errorHandler, notFoundHandler } from '../errors/error-handler.ts'
import { issueKey, type IssuedKey } from '../keys/key-registry.ts'
import type { AccountVariables } from '../middleware/api-key-auth/index.ts'
import type { RateLimitVariables } from '../middleware/rate-limit/index.ts'
import type { Scope } from '../accounts/account-record.ts'
import type { KeyAccountStub } from '../accounts/account-stub.ts'
import type { KeyAccount } from '../accounts/key-account.ts'
import type { PlanName } from '../accounts/plans.ts'

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789'

/** The real bindings (vitest.config.ts + wrangler.toml), typed as the worker sees them. */
export const bindings: EdgeBindings = env

export type TestEnv = { Bindings: EdgeBindings; Variables: AccountVariables & RateLimitVariables }

/** A real key (index entry + Durable Object), as the admin route would issue it. */
export async function provisionKey(plan: PlanName = 'test', scopes: Scope[] = ['images:generate', 'usage:read'], owner = 'tests'): Promise<IssuedKey> {
  return issueKey(bindings, { owner, plan, scopes })
}

/** Replaces a key account's clock with one the test moves (epoch ms, from `start`). Install it before anything is stored, or start it at the real time: a clock behind the stored state refills nothing. */
export async function fakeClock(stub: KeyAccountStub, start = Date.now()): Promise<{ now: number; advance(ms: number): void }> {
  const clock = {
    now: start,
    advance(ms: number) {
      clock.now += ms
    },
  }
  await runInDurableObject(stub, (instance: KeyAccount) => {
    instance.clock = () => clock.now
  })
  return clock
}

/** The real bindings, with a count of every access to the storage bindings (KEY_ACCOUNTS, KEY_INDEX). */
export function countingEnv(): { env: EdgeBindings; storageAccesses: () => number } {
  let accesses = 0
  const counted = new Proxy(bindings, {
    get(target, property, receiver) {
      if (property === 'KEY_ACCOUNTS' || property === 'KEY_INDEX') accesses++
      return Reflect.get(target, property, receiver) as unknown
    },
  })
  return { env: counted, storageAccesses: () => accesses }
}

/** A small app around the given routes with the edge's real error handling. */
export function testApp(build: (app: Hono<TestEnv>) => void): Hono<TestEnv> {
  const app = new Hono<TestEnv>()
  build(app)
  app.notFound(notFoundHandler)
  app.onError(errorHandler)
  return app
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}
