import { z } from 'zod'
import { MIN_SECRET_LENGTH } from '@snoopi/gpu-service/contract/request-signature'
import type { BotBindings } from '../bots/bot-settings.ts'

/**
 * How long a job keeps retrying an unavailable GPU tier by default: 30 minutes, longer than the
 * upper estimate of a sleeping tier's cold start (about 20 minutes, infra/README.md "Sleeping at
 * zero"), so jobs queued while it sleeps are served when it wakes.
 */
export const DEFAULT_JOB_RETRY_WINDOW_S = 1800

/** The Workers rate-limiting binding (`[[ratelimits]]` in wrangler.toml), as far as the edge uses it. */
export interface RateLimiterBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>
}

/** A message on the jobs queue: only the job's id (the job's Durable Object holds everything else). */
export interface JobMessage {
  job: string
}

/**
 * The worker's bindings as wrangler declares them (`wrangler.toml` [vars], secrets from `.dev.vars`
 * locally or `wrangler secret put` in production). The chat bots' settings (`BotBindings`: all
 * optional, a platform is on only when its secrets are set) are parsed apart, by `botSettings`
 * (edge/src/bots/bot-settings.ts), so a bad bot setting never takes the API down.
 */
export interface EdgeBindings extends BotBindings {
  GPU_SERVICE_URL?: string
  GPU_SERVICE_SECRET?: string
  GPU_TIMEOUT_MS?: string
  MODELS?: string
  ADMIN_TOKEN?: string
  CACHE_KEY_SECRET?: string
  PUBLIC_BASE_URL?: string
  WEBHOOK_ALLOW_LOOPBACK_HTTP?: string
  JOB_RETRY_WINDOW_S?: string
  KEY_ACCOUNTS: DurableObjectNamespace
  GENERATIONS: DurableObjectNamespace
  /** One `ImageJob` per job (`idFromName(job id)`): the job's source of truth. */
  JOBS: DurableObjectNamespace
  /** One `IdempotencyRecord` per (API key, route, Idempotency-Key). */
  IDEMPOTENCY: DurableObjectNamespace
  /** The generation jobs queue (producer; the same worker consumes it). */
  JOB_QUEUE: Queue<JobMessage>
  IMAGES: R2Bucket
  KEY_INDEX: KVNamespace
  /** Optional: the budget of lookups of unknown API keys per client IP (absent: unlimited). */
  AUTH_LIMITER?: RateLimiterBinding
}

/**
 * The edge's settings (`[vars]` and secrets), parsed in one place. Each one's default and meaning:
 * the table in edge/README.md, "Configuration" (the only copy; keep it in step with this schema).
 */
const edgeConfigSchema = z.object({
  GPU_SERVICE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((u) => u.replace(/\/+$/, '')),
  GPU_SERVICE_SECRET: z
    .string({ error: 'is required (set it in .dev.vars or with `wrangler secret put`)' })
    .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  /** The overall deadline of one call to the GPU service, retries included (upstream/gpu-client.ts); the GPU
   * service's body gets it as `timeout_ms`. */
  GPU_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  MODELS: z
    .string({ error: 'is required (a JSON list of {id, version, sizes})' })
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' })
        return z.NEVER
      }
    })
    .pipe(
      z
        .array(z.object({ id: z.string().min(1), version: z.string().min(1), sizes: z.array(z.string().regex(/^\d+x\d+$/)).min(1) }))
        .min(1, 'must list at least one model'),
    ),
  ADMIN_TOKEN: z.string({ error: 'is required (a secret)' }).min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  CACHE_KEY_SECRET: z.string({ error: 'is required (a secret)' }).min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  // Empty or absent: URLs use the origin of the request that reads them.
  PUBLIC_BASE_URL: z
    .union([z.literal(''), z.url({ protocol: /^https?$/, error: 'must be an http(s) URL or empty' })])
    .optional()
    .transform((u) => (u ? new URL(u).origin : undefined)),
  WEBHOOK_ALLOW_LOOPBACK_HTTP: z
    .enum(['true', 'false'], { error: 'must be "true" or "false"' })
    .default('false')
    .transform((v) => v === 'true'),
  JOB_RETRY_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(DEFAULT_JOB_RETRY_WINDOW_S),
})

export type EdgeConfig = z.infer<typeof edgeConfigSchema>
export type ModelEntry = EdgeConfig['MODELS'][number]

export type ConfigResult = { ok: true; config: EdgeConfig } | { ok: false; problems: string[] }

// The env object is stable for an isolate's lifetime, so each one is parsed once.
const parsed = new WeakMap<object, ConfigResult>()

/** Parses the bindings once per isolate; a problem list names every bad binding. */
export function edgeConfig(env: Partial<EdgeBindings>): ConfigResult {
  let result = parsed.get(env)
  if (!result) {
    const outcome = edgeConfigSchema.safeParse(env)
    result = outcome.success
      ? { ok: true, config: outcome.data }
      : { ok: false, problems: outcome.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) }
    parsed.set(env, result)
  }
  return result
}
