import type { MiddlewareHandler } from 'hono'
import { z } from 'zod'
import type { EdgeEnv } from '../edge-env.ts'
import { ApiError } from '../errors/api-error.ts'
import { parseGeneration, validationHook } from '../routes/generations.ts'
import { checkWebhookUrl, MAX_WEBHOOK_URL_LENGTH, webhookRules } from '../webhooks/webhook-url.ts'
import type { JobWebhook } from './image-job.ts'
import { WEBHOOK_EVENTS, type JsonObject } from './job-record.ts'

/** A job's request as submitted (without its webhook fields) and its webhook, if any. */
export interface JobSubmission {
  request: JsonObject
  webhook?: JobWebhook
}

const webhookFields = z.object({
  webhook: z.string().max(MAX_WEBHOOK_URL_LENGTH).optional(),
  webhook_events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .max(WEBHOOK_EVENTS.length)
    .refine((events) => new Set(events).size === events.length, 'webhook_events must not repeat an event')
    .optional(),
})

/** The longest `Prefer: wait` honoured, seconds. */
export const MAX_PREFER_WAIT_S = 60

/**
 * The `wait` preference of a `Prefer` header (RFC 7240: `Prefer: wait=10`, among other preferences),
 * clamped to 0 … 60 s; undefined when there is none.
 */
export function preferredWait(header: string | undefined): number | undefined {
  if (!header) return undefined
  for (const preference of header.split(',')) {
    const match = /^\s*wait\s*=\s*"?(\d+)"?\s*(?:;.*)?$/i.exec(preference)
    if (match) return Math.min(MAX_PREFER_WAIT_S, Number(match[1]))
  }
  return undefined
}

/**
 * `POST /v1/jobs`' body, checked once before any storage: the generation request (exactly as
 * `POST /v1/images/generations` checks it) plus `webhook` and `webhook_events` (default
 * `["completed"]`). A webhook URL that breaks a rule by its form is `400 invalid_webhook_url`.
 */
export const validateJob: MiddlewareHandler<EdgeEnv> = async function validateJob(c, next) {
  let raw: unknown
  try {
    raw = await c.req.json()
  } catch {
    throw new ApiError(400, { code: 'invalid_json', message: 'the body is not valid JSON' })
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ApiError(400, { code: 'invalid_request', message: 'the body must be a JSON object' })
  const { webhook, webhook_events, ...request } = raw as JsonObject
  const extras = webhookFields.safeParse({ webhook, webhook_events })
  validationHook(extras)
  const config = c.get('config')
  const { body, canonical } = parseGeneration(request, config)
  const submission: JobSubmission = { request }
  if (extras.data?.webhook !== undefined) {
    const target = checkWebhookUrl(extras.data.webhook, webhookRules(config, [new URL(c.req.url).origin]))
    if (!target.ok) throw new ApiError(400, { code: 'invalid_webhook_url', message: `webhook: ${target.reason}` })
    submission.webhook = { url: target.url.toString(), events: extras.data.webhook_events ?? ['completed'] }
  } else if (extras.data?.webhook_events !== undefined) {
    throw new ApiError(400, { code: 'invalid_request', message: 'webhook_events needs a webhook' })
  }
  c.set('generation', body)
  c.set('canonical', canonical)
  c.set('jobSubmission', submission)
  await next()
}
