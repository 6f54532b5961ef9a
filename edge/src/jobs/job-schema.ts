import { createRoute, z } from '@hono/zod-openapi'
import { errorSchema, generationRequestSchema, imageDataSchema } from '../api/generation-schema.ts'
import { JOB_STATUSES, WEBHOOK_EVENTS } from './job-record.ts'

// The job routes' OpenAPI descriptions (app.ts registers them; bodies are checked once, by
// `validateJob`, and the route handlers in job-routes.ts).

const errors = (codes: Record<number, string>) =>
  Object.fromEntries(Object.entries(codes).map(([status, description]) => [status, { description, content: { 'application/json': { schema: errorSchema } } }]))

export const jobRequestSchema = generationRequestSchema
  .extend({
    webhook: z.string().max(2048).optional().openapi({ description: 'https URL that receives the job\'s events, signed (Standard Webhooks); needs a webhook secret (POST /v1/webhook-secret)' }),
    webhook_events: z.array(z.enum(WEBHOOK_EVENTS)).optional().openapi({ description: 'Optional events to send besides job.failed and job.canceled (default ["completed"])' }),
  })
  .openapi('ImageJobRequest')

export const jobSchema = z
  .object({
    id: z.string().openapi({ example: 'job_018f3a2b4c5dAbCdEfGhIjKlMnOpQrSt' }),
    object: z.literal('image.job'),
    status: z.enum(JOB_STATUSES),
    created: z.number().int(),
    model: z.string(),
    request: z.record(z.string(), z.unknown()).openapi({ description: 'The generation request as submitted, without webhook / webhook_events' }),
    queue_position: z.number().int().optional().openapi({ description: "While queued: 1 + this key's queued jobs ahead of it" }),
    data: z.array(imageDataSchema).optional().openapi({ description: 'Once succeeded: exactly the data of the synchronous answer' }),
    error: z.object({ type: z.string(), code: z.string(), message: z.string() }).optional(),
    cache: z.enum(['HIT', 'COALESCED', 'MISS']).optional().openapi({ description: 'Once succeeded: how it was answered (only MISS is charged)' }),
    attempts: z.number().int(),
    started_at: z.number().int().nullable(),
    finished_at: z.number().int().nullable(),
    urls: z.object({ self: z.string(), cancel: z.string() }),
  })
  .openapi('ImageJob')

const jobContent = { 'application/json': { schema: jobSchema } }
const jobIdParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'job_018f3a2b4c5dAbCdEfGhIjKlMnOpQrSt' }) })

export const submitJobRoute = createRoute({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Submit a generation job (answered at once; the images come later, by polling or webhook)',
  security: [{ bearerAuth: [] }],
  request: {
    headers: z.object({
      'idempotency-key': z.string().optional().openapi({ description: 'Same key and body within 24 h: the same job, charged once' }),
      prefer: z.string().optional().openapi({ description: 'wait=N (N ≤ 60): hold the answer up to N s; 200 if the job finished by then' }),
    }),
    body: { content: { 'application/json': { schema: jobRequestSchema } }, required: true },
  },
  responses: {
    200: { description: 'The job, finished within Prefer: wait (Preference-Applied)', content: jobContent },
    202: { description: 'The job (succeeded at once on a cache hit). Location: the job; Preference-Applied with Prefer: wait', content: jobContent },
    ...errors({
      400: 'Invalid request, invalid_webhook_url, webhook_secret_missing, invalid_idempotency_key',
      401: 'Missing, malformed, unknown or revoked API key',
      403: 'The key lacks images:generate',
      404: 'Unknown model',
      409: 'idempotency_key_in_flight',
      413: 'Body too large',
      415: 'Not JSON',
      422: 'idempotency_key_reused: the Idempotency-Key was used with another body',
      429: 'Rate limit, image quota, or queue_full (too many unfinished jobs for the plan), with Retry-After',
    }),
  },
})

export const listJobsRoute = createRoute({
  method: 'get',
  path: '/v1/jobs',
  summary: "The key's jobs, newest first",
  security: [{ bearerAuth: [] }],
  request: {
    query: z.object({
      limit: z.string().optional().openapi({ description: '1–100, default 20' }),
      after: z.string().optional().openapi({ description: 'A job id: the jobs after it (older)' }),
    }),
  },
  responses: {
    200: { description: '{object: "list", data, has_more}', content: { 'application/json': { schema: z.object({ object: z.literal('list'), data: z.array(jobSchema), has_more: z.boolean() }) } } },
    ...errors({ 400: 'Bad limit or cursor', 401: 'Missing or bad API key', 403: 'The key lacks images:generate' }),
  },
})

export const getJobRoute = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'A job',
  security: [{ bearerAuth: [] }],
  request: { params: jobIdParam },
  responses: {
    200: { description: 'The job', content: jobContent },
    ...errors({ 401: 'Missing or bad API key', 403: 'The key lacks images:generate', 404: "No such job for this key (another key's jobs are not found either)" }),
  },
})

export const cancelJobRoute = createRoute({
  method: 'post',
  path: '/v1/jobs/{id}/cancel',
  summary: 'Cancel a queued or running job (its images are not charged)',
  security: [{ bearerAuth: [] }],
  request: { params: jobIdParam },
  responses: {
    200: { description: 'The job, canceled', content: jobContent },
    ...errors({ 401: 'Missing or bad API key', 403: 'The key lacks images:generate', 404: 'No such job for this key', 409: 'job_not_cancelable: it already succeeded or failed' }),
  },
})

export const webhookSecretRoute = createRoute({
  method: 'post',
  path: '/v1/webhook-secret',
  summary: "Create or rotate the key's webhook signing secret (shown once; the old one signs for 24 h more)",
  security: [{ bearerAuth: [] }],
  responses: {
    200: { description: '{secret: "whsec_…", created}', content: { 'application/json': { schema: z.object({ secret: z.string(), created: z.number().int() }).openapi('WebhookSecret') } } },
    ...errors({ 401: 'Missing or bad API key', 403: 'The key lacks images:generate' }),
  },
})
