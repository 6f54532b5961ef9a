import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { MIN_SECRET_LENGTH } from '../contract/request-signature.ts'

/**
 * The GPU service's configuration: every environment variable it reads, parsed in one place so a
 * bad value stops the process at start with a message that names the variable.
 * Each variable's default and meaning: the table in gpu-service/README.md, "Configuration" (the only
 * copy; keep it in step with this schema).
 */
export const serviceConfigSchema = z.object({
  GPU_SERVICE_SECRET: z
    .string({ error: 'is required (the shared HMAC secret with the edge)' })
    .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8788),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SIGNATURE_WINDOW_S: z.coerce.number().int().min(1).max(3600).default(300),
  MODEL_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1–64 characters of a-z, 0-9, ".", "_" or "-"')
    .default('snoopi-default'),
  MODEL_DIR: z.string().min(1).optional(),
  MODEL_CACHE_DIR: z.string().min(1).default(fileURLToPath(new URL('../../../.cache/bundles', import.meta.url))),
  DEVICE: z.enum(['cpu', 'cuda']).default('cpu'),
  ORT_THREADS: z.coerce.number().int().min(0).max(256).default(0),
  NAG_NORM: z.enum(['l1', 'l2']).default('l2'),
  MODEL_S3_URI: z.string().regex(/^s3:\/\/[^/]+\/.*$/, 'must look like s3://bucket/prefix/').optional(),
  MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(16).default(4),
  BATCH_DELAY_MS: z.coerce.number().min(0).max(1000).default(5),
  MAX_QUEUE_IMAGES: z.coerce.number().int().min(1).max(10_000).default(32),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  SHUTDOWN_TIMEOUT_S: z.coerce.number().min(0).max(3600).default(30),
  METRICS_EMF: z
    .enum(['0', '1', 'false', 'true'], { error: 'must be true/false or 1/0' })
    .default('false')
    .transform((v) => v === '1' || v === 'true'),
  ENVIRONMENT: z.string().regex(/^[a-z0-9-]{1,32}$/, 'must be 1–32 characters of a-z, 0-9 or -').default('local'),
})
  .refine((c) => !(c.MODEL_DIR && c.MODEL_S3_URI), { message: 'set MODEL_DIR or MODEL_S3_URI, not both', path: ['MODEL_S3_URI'] })
  // /metrics gets its own listener; by default the port after PORT (0, any free port, when PORT is 0).
  .transform(({ METRICS_PORT, ...c }) => ({ ...c, METRICS_PORT: METRICS_PORT ?? (c.PORT === 0 ? 0 : c.PORT + 1) }))
  .refine((c) => c.METRICS_PORT <= 65535, { message: 'PORT is 65535, so PORT + 1 is no port: set METRICS_PORT', path: ['METRICS_PORT'] })
  .refine((c) => c.METRICS_PORT === 0 || c.METRICS_PORT !== c.PORT, { message: 'must differ from PORT (/metrics is kept off the API port)', path: ['METRICS_PORT'] })

export type ServiceConfig = z.infer<typeof serviceConfigSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses `env` (default `process.env`); throws one ConfigError listing every bad variable. */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const parsed = serviceConfigSchema.safeParse(env)
  if (parsed.success) return parsed.data
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
  throw new ConfigError(`invalid GPU service configuration:\n${lines.join('\n')}`)
}
