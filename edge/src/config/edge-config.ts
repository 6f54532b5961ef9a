import { z } from 'zod'
import { MIN_SECRET_LENGTH } from '@snoopi/gpu-service/request-signature'

/**
 * The worker's bindings as wrangler declares them (`wrangler.toml` [vars], secrets from `.dev.vars`
 * locally or `wrangler secret put` in production).
 */
export interface EdgeBindings {
  GPU_SERVICE_URL?: string
  GPU_SERVICE_SECRET?: string
  GPU_TIMEOUT_MS?: string
}

/**
 * | binding | default | meaning |
 * | --- | --- | --- |
 * | `GPU_SERVICE_URL` | (required) | base URL of the GPU service (the ALB in production) |
 * | `GPU_SERVICE_SECRET` | (required, secret) | shared HMAC secret, ≥ 32 characters |
 * | `GPU_TIMEOUT_MS` | `30000` | per-call timeout towards the GPU service |
 */
const edgeConfigSchema = z.object({
  GPU_SERVICE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((u) => u.replace(/\/+$/, '')),
  GPU_SERVICE_SECRET: z
    .string({ error: 'is required (set it in .dev.vars or with `wrangler secret put`)' })
    .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  GPU_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
})

export type EdgeConfig = z.infer<typeof edgeConfigSchema>

export type ConfigResult = { ok: true; config: EdgeConfig } | { ok: false; problems: string[] }

// The env object is stable for an isolate's lifetime, so each one is parsed once.
const parsed = new WeakMap<object, ConfigResult>()

/** Parses the bindings once per isolate; a problem list names every bad binding. */
export function edgeConfig(env: EdgeBindings): ConfigResult {
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
