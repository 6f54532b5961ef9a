/** Worker entry point (wrangler.toml `main`): the app, the jobs queue's consumer and the Durable Object classes. */
import { createApp } from './app.ts'
import type { EdgeBindings, JobMessage } from './config/edge-config.ts'
import { consumeJobs } from './jobs/job-consumer.ts'
import { consumeBotDeliveries, isBotDeliveryQueue } from './bots/bot-delivery.ts'
import type { BotDeliveryMessage } from './bots/bot-target.ts'

export { KeyAccount } from './accounts/key-account.ts'
export { GenerationCoordinator } from './generation/generation-coordinator.ts'
export { ImageJob } from './jobs/image-job.ts'
export { IdempotencyRecord } from './idempotency/idempotency-record.ts'
export { BotInstall } from './bots/bot-install.ts'
export { BotLinkCode } from './bots/link-codes.ts'

const app = createApp()

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // The bots' delivery queues are told apart by name (snoopi-bot-deliveries…); every other batch is the jobs'.
  queue: (batch, env) => (isBotDeliveryQueue(batch.queue) ? consumeBotDeliveries(batch as MessageBatch<BotDeliveryMessage>, env) : consumeJobs(batch as MessageBatch<JobMessage>, env)),
} satisfies ExportedHandler<EdgeBindings, JobMessage | BotDeliveryMessage>
