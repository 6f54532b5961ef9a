import { ImageStore } from '../cache/image-store.ts'
import { edgeConfig, type EdgeBindings } from '../config/edge-config.ts'
import { publicBase } from '../generation/generation-path.ts'
import { jobStub } from '../jobs/job-consumer.ts'
import { isFinished, type JobView } from '../jobs/job-record.ts'
import type { ImageAnswer } from './bot-answer.ts'
import { engineJobs } from './bot-jobs.ts'
import { startIntake } from './bot-runner.ts'
import { installStub, jobStoreStub, type InstallStub } from './bot-service.ts'
import { botSettings, PLATFORMS, type BotSettings, type Platform } from './bot-settings.ts'
import type { DeliveryState } from './bot-install.ts'
import type { BotDeliveryMessage, BotJobRecord } from './bot-target.ts'
import { backoffSeconds, type DeliveryVerdict } from './delivery-policy.ts'
import { deliverDiscord } from './discord/discord-api.ts'
import { imageMessage as discordImage, textMessage as discordText } from './discord/discord-messages.ts'
import { deliverSlack } from './slack/slack-api.ts'
import { imagePost, imageResponse, textResponse } from './slack/slack-messages.ts'
import { botApiCall } from './telegram/telegram-api.ts'
import { photoMessage, textMessage as telegramText } from './telegram/telegram-api.ts'

/**
 * How long one handling of a delivery message waits for its job to finish (the job's Durable Object
 * wakes it the moment it does); an unfinished job's message comes back a second later and waits again.
 */
export const DELIVERY_WAIT_MS = 20_000
/** How soon a message whose job is still running comes back. */
const STILL_RUNNING_DELAY_S = 1

/** What goes out for a finished job: its image, or (once) why there is none. */
export type DeliveryContent = { kind: 'image'; answer: ImageAnswer } | { kind: 'text'; text: string }

/** The platform's answer to one attempt, and the `response_url` uses it spent (Slack). */
export interface AttemptResult {
  verdict: DeliveryVerdict
  via: string
  usesAdded: number
}

function userMention(record: BotJobRecord): string {
  return record.target.platform === 'slack' ? record.target.userId : record.user
}

/** The content of a finished job: its first image (once it is in R2: platforms fetch the URL at once, Telegram caches it for days). */
export async function contentOf(env: EdgeBindings, record: BotJobRecord, view: JobView, baseUrl: string): Promise<DeliveryContent | 'not_stored'> {
  if (view.status === 'succeeded') {
    const image = view.manifest?.images[0]
    if (!image) return { kind: 'text', text: `Sorry — “${record.request.prompt}” produced no image.` }
    if (!(await new ImageStore(env.IMAGES).headImage(image.id, image.ext))) return 'not_stored'
    return { kind: 'image', answer: { job: record.id, imageUrl: `${baseUrl}/v1/images/${image.id}.${image.ext}`, request: record.request, seed: image.seed, userId: userMention(record) } }
  }
  const why = view.status === 'canceled' ? 'the job was canceled' : (view.error?.message ?? 'the image service failed')
  return { kind: 'text', text: `Sorry — I could not draw “${record.request.prompt}”: ${why}. Try again in a moment.` }
}

/** One attempt to post `content` where `record` says, with the platform's rules (see delivery-policy.ts). */
export async function attemptDelivery(settings: BotSettings, record: BotJobRecord, content: DeliveryContent, state: DeliveryState, nowMs: number): Promise<AttemptResult> {
  const attempt = state.attempts + 1
  const target = record.target
  if (target.platform === 'discord') {
    if (!settings.discord) return { verdict: { kind: 'retry', delaySeconds: 60, reason: 'discord is off' }, via: 'none', usesAdded: 0 }
    const message = content.kind === 'image' ? discordImage(content.answer) : discordText(content.text)
    const { verdict, via } = await deliverDiscord({ apiBase: settings.discord.apiBase, ...(settings.discord.botToken ? { botToken: settings.discord.botToken } : {}) }, target, message, attempt, nowMs)
    return { verdict, via, usesAdded: 0 }
  }
  if (target.platform === 'slack') {
    if (!settings.slack) return { verdict: { kind: 'retry', delaySeconds: 60, reason: 'slack is off' }, via: 'none', usesAdded: 0 }
    const viaResponseUrl = content.kind === 'image' ? imageResponse(content.answer, target.replaceOriginal) : textResponse(content.text, target.replaceOriginal)
    const viaPost = (channel: string) => (content.kind === 'image' ? imagePost(content.answer, channel) : { channel, text: `<@${target.userId}> ${content.text}` })
    const result = await deliverSlack(
      { apiBase: settings.slack.apiBase, ...(settings.slack.botToken ? { botToken: settings.slack.botToken } : {}) },
      { ...(target.responseUrl ? { responseUrl: target.responseUrl } : {}), issuedAt: target.issuedAt, ...(target.channelId ? { channelId: target.channelId } : {}), uses: target.usesSpent + state.uses },
      viaResponseUrl,
      viaPost,
      attempt,
      nowMs,
    )
    return { verdict: result.verdict, via: result.via, usesAdded: result.used ? 1 : 0 }
  }
  if (!settings.telegram) return { verdict: { kind: 'retry', delaySeconds: 60, reason: 'telegram is off' }, via: 'none', usesAdded: 0 }
  const api = { apiBase: settings.telegram.apiBase, botToken: settings.telegram.botToken }
  const { verdict } =
    content.kind === 'image'
      ? await botApiCall(api, 'sendPhoto', photoMessage(content.answer, target.chatId, target.replyTo), attempt)
      : await botApiCall(api, 'sendMessage', telegramText(content.text, target.chatId, target.replyTo), attempt)
  return { verdict, via: content.kind === 'image' ? 'sendPhoto' : 'sendMessage', usesAdded: 0 }
}

function installOf(message: BotDeliveryMessage): { platform: Platform; install: string } | null {
  const colon = message.install.indexOf(':')
  const platform = message.install.slice(0, colon) as Platform
  return colon > 0 && PLATFORMS.includes(platform) ? { platform, install: message.install.slice(colon + 1) } : null
}

/**
 * One delivery message: wait for the job (its object wakes the wait when it finishes), then post its
 * image — or, once, why it failed — to the platform. 429 → retried after its Retry-After; 5xx or a
 * network error → backoff; a target that is gone with no fallback, or a platform that refuses the
 * message for good → the dead-letter queue. Every outcome is recorded on the install.
 */
async function deliverOne(message: Message<BotDeliveryMessage>, env: EdgeBindings): Promise<void> {
  const body = message.body as Partial<BotDeliveryMessage> | undefined
  const where = body && typeof body.install === 'string' && (typeof body.job === 'string' || typeof body.intake === 'object') ? installOf(body as BotDeliveryMessage) : null
  if (!where) {
    console.error(`bots: dropping a delivery message without an install and a job or intake (${message.id})`)
    message.ack()
    return
  }
  const settings = botSettings(env)
  const config = edgeConfig(env)
  if (!settings.ok || !settings.settings || !config.ok) {
    console.error(`bots: ${message.body.install} waits: the bots are misconfigured`)
    message.retry({ delaySeconds: 60 })
    return
  }
  if (message.body.intake !== undefined) {
    // An answered generation to start (sent by its answer, or again by the front's watchdog).
    const intake = message.body.intake
    const withBase = { ...config.config, PUBLIC_BASE_URL: intake.baseUrl || config.config.PUBLIC_BASE_URL }
    const started = await startIntake({ env, config: withBase, settings: settings.settings, jobs: engineJobs(env, withBase) }, intake)
    if (started.retryInSeconds !== undefined) message.retry({ delaySeconds: started.retryInSeconds })
    else message.ack()
    return
  }
  const store = jobStoreStub(env, where.platform, where.install)
  const job = message.body.job
  const record = await store.job(job)
  if (!record) {
    console.error(`bots: delivery of ${job}: the install ${message.body.install} has no record of it`)
    message.ack()
    return
  }
  const state = await store.claimDelivery(job)
  if (state.state !== 'pending') {
    message.ack()
    return
  }
  if (record.notice !== undefined) {
    await attemptAndSettle(message, env, settings.settings, store, record, { kind: 'text', text: record.notice }, state, where.platform)
    return
  }
  const view = await jobStub(env, job).waitFor(DELIVERY_WAIT_MS)
  if (!view) {
    // Refused at creation (the user was told then): nothing to deliver.
    await settle(env, store, record, { state: 'delivered', attempted: false, usesAdded: 0, result: 'no job (refused at creation)' })
    message.ack()
    return
  }
  if (!isFinished(view.status)) {
    message.retry({ delaySeconds: STILL_RUNNING_DELAY_S })
    return
  }
  const content = await contentOf(env, record, view, publicBase(config.config, view.origin))
  if (content === 'not_stored') {
    const delaySeconds = backoffSeconds(message.attempts)
    await store.watchDelivery(job, delaySeconds * 1000)
    message.retry({ delaySeconds })
    return
  }
  await attemptAndSettle(message, env, settings.settings, store, record, content, state, where.platform)
}

/** Records a delivery's step in the job store; the step that ends it hands the job's install slot back to the front. */
async function settle(env: EdgeBindings, store: InstallStub, record: BotJobRecord, update: Parameters<InstallStub['noteDelivery']>[1]): Promise<DeliveryState> {
  const { state, ended } = await store.noteDelivery(record.id, update)
  if (ended && record.slot !== undefined) await installStub(env, record.platform, record.install).release(record.slot)
  return state
}

/** One attempt, its result recorded on the install, and the message acknowledged, retried or dead-lettered. */
async function attemptAndSettle(
  message: Message<BotDeliveryMessage>,
  env: EdgeBindings,
  settings: BotSettings,
  store: InstallStub,
  record: BotJobRecord,
  content: DeliveryContent,
  state: DeliveryState,
  platform: Platform,
): Promise<void> {
  const job = record.id
  const result = await attemptDelivery(settings, record, content, state, Date.now())
  const { verdict } = result
  const summary = `${verdict.kind}${'reason' in verdict ? `: ${verdict.reason}` : ''} (via ${result.via})`
  const ended = verdict.kind === 'delivered' ? 'delivered' : 'pending'
  await settle(env, store, record, { state: ended, attempted: true, usesAdded: result.usesAdded, result: summary })
  if (verdict.kind === 'delivered') {
    message.ack()
  } else if (verdict.kind === 'retry') {
    console.warn(`bots: delivery of ${job} to ${platform}: ${summary}; retried in ${verdict.delaySeconds} s`)
    await store.watchDelivery(job, verdict.delaySeconds * 1000)
    message.retry({ delaySeconds: verdict.delaySeconds })
  } else {
    // Gone with no fallback, or refused for good: the dead-letter path records it (and logs it).
    console.error(`bots: delivery of ${job} to ${platform}: ${summary}; dead-lettered`)
    if (env.BOT_DEAD_LETTERS) await env.BOT_DEAD_LETTERS.send(message.body)
    else await settle(env, store, record, { state: 'dead', attempted: false, usesAdded: 0, result: `dead: ${summary}` })
    message.ack()
  }
}

/**
 * The dead-letter path: a delivery that can never succeed, or whose message the queue gave up on.
 * It ends visibly: the install records it dead (with the last results), the log says so, and the
 * job's install slot is handed back. The job itself stays as it is (listed by `GET /v1/jobs`).
 */
async function deadLetter(message: Message<BotDeliveryMessage>, env: EdgeBindings): Promise<void> {
  const where = message.body && typeof message.body.job === 'string' ? installOf(message.body) : null
  if (where && message.body.job !== undefined) {
    const store = jobStoreStub(env, where.platform, where.install)
    const record = await store.job(message.body.job)
    const update = { state: 'dead' as const, attempted: false, usesAdded: 0, result: 'dead-lettered' }
    const state = record ? await settle(env, store, record, update) : (await store.noteDelivery(message.body.job, update)).state
    console.error(`bots: DEAD LETTER ${message.body.install} job ${message.body.job}: ${state.results.join(' | ')}`)
  } else if (message.body?.intake !== undefined) {
    console.error(`bots: DEAD LETTER ${message.body.install}: the start of event ${message.body.intake.event.eventId} failed 100 times`)
  } else {
    console.error(`bots: DEAD LETTER without an install or job (${message.id})`)
  }
  message.ack()
}

/** The bot delivery queue's consumer and its dead-letter queue's (named `…-dlq`). */
export async function consumeBotDeliveries(batch: MessageBatch<BotDeliveryMessage>, env: EdgeBindings): Promise<void> {
  const each = batch.queue.endsWith('-dlq') ? deadLetter : deliverOne
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await each(message, env)
      } catch (error) {
        console.error(`bots: handling delivery message ${message.id} failed (retried):`, error)
        message.retry({ delaySeconds: backoffSeconds(message.attempts) })
      }
    }),
  )
}

/** Whether a queue batch is the bots' (its queue's name starts with `snoopi-bot-deliveries`). */
export function isBotDeliveryQueue(queue: string): boolean {
  return queue.startsWith('snoopi-bot-deliveries')
}
