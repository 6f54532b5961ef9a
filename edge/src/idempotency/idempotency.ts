import { toHex } from '@snoopi/gpu-service/contract/hex'
import type { MiddlewareHandler } from 'hono'
import type { EdgeBindings } from '../config/edge-config.ts'
import type { EdgeEnv } from '../edge-env.ts'
import { ApiError } from '../errors/api-error.ts'
import { newJobId } from '../jobs/job-record.ts'
import type { IdempotencyRecord } from './idempotency-record.ts'

/** The routes that take an `Idempotency-Key` (each has its own key space). */
export type IdempotentRoute = 'generations' | 'jobs'

/** Printable ASCII without spaces, 1–255 characters (as Stripe and the IETF draft's examples use). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/
/** A first request still unanswered after this long is taken to have died: a repeat runs it again. */
export const IDEMPOTENCY_LEASE_MS = 5 * 60_000
/** Answer headers a replay repeats (the rate-limit headers are the replay's own). */
const REPLAYED_HEADERS = ['content-type', 'x-cache', 'location', 'preference-applied'] as const

export type IdempotencyVariables = {
  /** Jobs: the id a first request gives its job (the same on a repeat of a request that died). */
  idempotentJobId?: string
  /** Jobs: a repeat arrived while the first request is still unanswered (answer with that job). */
  idempotentRepeat?: boolean
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    return `{${Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(record[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return toHex(digest)
}

function recordOf(env: Pick<EdgeBindings, 'IDEMPOTENCY'>, name: string): DurableObjectStub<IdempotencyRecord> {
  const namespace = env.IDEMPOTENCY as DurableObjectNamespace<IdempotencyRecord>
  return namespace.get(namespace.idFromName(name))
}

/** Whether an answer is final enough to repeat: not a server error, a rate limit or a conflict (those may go differently next time). */
function repeatable(status: number): boolean {
  return status < 500 && status !== 429 && status !== 409
}

/**
 * `Idempotency-Key` on a POST route (after authentication and rate limiting). Scoped per API key and
 * per route; the body's fingerprint is the SHA-256 of its JSON with keys sorted. Within 24 h of the
 * first request: the same key with the same body replays the first answer (status, body and its
 * headers, with `Idempotent-Replayed: true`, nothing charged again); with another body it is
 * `422 idempotency_key_reused`; while the first is unanswered, `409 idempotency_key_in_flight` (jobs
 * answer with the job instead, see the route). A first answer that is a 5xx, 429 or 409 is not kept,
 * so the key can be used again.
 */
export function idempotency(route: IdempotentRoute): MiddlewareHandler<EdgeEnv & { Variables: IdempotencyVariables }> {
  return async function idempotencyMiddleware(c, next) {
    const key = c.req.header('idempotency-key')
    if (key === undefined) return next()
    if (!KEY_PATTERN.test(key)) throw new ApiError(400, { code: 'invalid_idempotency_key', message: 'Idempotency-Key must be 1–255 printable ASCII characters without spaces' })
    const fingerprint = await sha256Hex(stableJson(await c.req.json<unknown>()))
    const record = recordOf(c.env, `${c.get('account').keyId}\n${route}\n${key}`)
    const begun = await record.begin(fingerprint, IDEMPOTENCY_LEASE_MS, route === 'jobs' ? newJobId() : undefined)
    if (begun.action === 'mismatch') {
      throw new ApiError(422, { code: 'idempotency_key_reused', message: 'This Idempotency-Key was used with another request body in the last 24 hours.' })
    }
    if (begun.action === 'replay') {
      return new Response(begun.answer.body, { status: begun.answer.status, headers: { ...begun.answer.headers, 'Idempotent-Replayed': 'true' } })
    }
    if (begun.action === 'in_flight') {
      if (!begun.jobId) throw new ApiError(409, { code: 'idempotency_key_in_flight', message: 'A request with this Idempotency-Key is still in progress; retry once it has been answered.' })
      c.set('idempotentJobId', begun.jobId)
      c.set('idempotentRepeat', true)
      return next()
    }
    if (begun.jobId) c.set('idempotentJobId', begun.jobId)
    await next()
    if (!repeatable(c.res.status)) {
      await record.abandon(fingerprint)
      return
    }
    const headers: Record<string, string> = {}
    for (const name of REPLAYED_HEADERS) {
      const value = c.res.headers.get(name)
      if (value !== null) headers[name] = value
    }
    await record.finish(fingerprint, { status: c.res.status, headers, body: await c.res.clone().text() })
  }
}
