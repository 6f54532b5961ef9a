/** Worker entry point (wrangler.toml `main`): the app, the jobs queue's consumer and the Durable Object classes. */
import { createApp } from './app.ts'
import type { EdgeBindings, JobMessage } from './config/edge-config.ts'
import { consumeJobs } from './jobs/job-consumer.ts'

export { KeyAccount } from './accounts/key-account.ts'
export { GenerationCoordinator } from './generation/generation-coordinator.ts'
export { ImageJob } from './jobs/image-job.ts'
export { IdempotencyRecord } from './idempotency/idempotency-record.ts'

const app = createApp()

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  queue: (batch, env) => consumeJobs(batch, env),
} satisfies ExportedHandler<EdgeBindings, JobMessage>
