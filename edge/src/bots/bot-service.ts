import { accountStub, accountStubById, type KeyAccountStub } from '../accounts/account-stub.ts'
import type { EdgeBindings, EdgeConfig } from '../config/edge-config.ts'
import { newJobId } from '../jobs/job-record.ts'
import { keyHash } from '../keys/api-key.ts'
import { retryIn, type ImageAnswer } from './bot-answer.ts'
import { HELP_TEXT, type BotCommand, type BotEvent } from './bot-command.ts'
import { installName, jobStoreName, type BotInstall, type Entry } from './bot-install.ts'
import type { BotSettings } from './bot-settings.ts'
import type { BotJobRecord } from './bot-target.ts'
import { rerollRequest, withoutRequest, type ImagineRequest } from './imagine-command.ts'
import { normalizeLinkCode, type BotLinkCode } from './link-codes.ts'
import { effectiveSeed } from './request-seed.ts'

/** What the platform is told, in words every platform renders its own way. */
export type Outcome =
  /** A job was started: the deferred answer now, the image when it is done (`record`: where it goes). */
  | { kind: 'queued'; job: string; request: ImagineRequest; record: BotJobRecord }
  /** The image exists already (a cache hit). */
  | { kind: 'image'; answer: ImageAnswer; record: BotJobRecord }
  /** A message only the user sees. */
  | { kind: 'text'; text: string }
  /** "Without…": ask what to leave out of the job's image. */
  | { kind: 'ask_without'; job: string; prompt: string }
  /** The key was busy for a moment (its concurrency): try starting it again after `delaySeconds`, keeping what it holds. */
  | { kind: 'later'; delaySeconds: number }

/** What submitting a bot job answers: the job (finished at once on a cache hit), or why not. */
export type Submission =
  | { ok: true; job: string; image?: { url: string; seed: string } }
  | { ok: false; retryAfterSeconds?: number; message: string; keyGone?: boolean; transient?: boolean }

/**
 * The seam to the job engine: a bot job is an ordinary job of the key it is charged to (`request` =
 * the parsed command), and its delivery goes through the bots' own queue.
 */
export interface BotJobs {
  /** Creates job `id` (creating the same id again makes no second job). */
  submit(input: { id: string; payer: KeyAccountStub; request: ImagineRequest }): Promise<Submission>
  /**
   * Records the job with its install (where it goes, its request for the buttons), watches its
   * delivery, closes the intake it came from, and hands it to the delivery queue: its image (or its
   * failure) is posted once it finishes.
   */
  deliver(record: BotJobRecord, intake?: string): Promise<void>
  /** Posts `text` where `event` came from, through the delivery queue (retried like an image); `jobId` names it (a start made twice posts once). */
  notify(event: BotEvent, text: string, intake?: string, jobId?: string): Promise<void>
}

export interface BotContext {
  env: EdgeBindings
  config: EdgeConfig
  settings: BotSettings
  jobs: BotJobs
}

export type InstallStub = DurableObjectStub<BotInstall>

/** The install's front object (`<platform>:<install id>`): what every answer calls. */
export function installStub(env: EdgeBindings, platform: string, install: string): InstallStub {
  const namespace = env.BOT_INSTALLS as DurableObjectNamespace<BotInstall>
  return namespace.get(namespace.idFromName(installName(platform, install)))
}

/** The install's job store (`<platform>:<install id>/jobs`): jobs, deliveries, asks. */
export function jobStoreStub(env: EdgeBindings, platform: string, install: string): InstallStub {
  const namespace = env.BOT_INSTALLS as DurableObjectNamespace<BotInstall>
  return namespace.get(namespace.idFromName(jobStoreName(platform, install)))
}

function linkCodeStub(env: EdgeBindings, code: string): DurableObjectStub<BotLinkCode> {
  const namespace = env.BOT_LINK_CODES as DurableObjectNamespace<BotLinkCode>
  return namespace.get(namespace.idFromName(code))
}

// BOT_API_KEY's account, found once per isolate (its hash names its Durable Object).
let operator: { key: string; hash: Promise<string> } | undefined

/** The account of the operator's key (`BOT_API_KEY`), which every unlinked user spends. */
export async function operatorAccount(env: EdgeBindings, apiKey: string): Promise<KeyAccountStub> {
  if (operator?.key !== apiKey) operator = { key: apiKey, hash: keyHash(apiKey) }
  return accountStub(env, await operator.hash)
}

/** Whether a command starts a generation (and so is admitted under the limits). */
export function generates(command: BotCommand): boolean {
  return command.kind === 'imagine' || command.kind === 'reroll' || command.kind === 'without'
}

/** The request a generation command asks for (a button's is derived from its job, `entry.base`), or a message why none. */
async function requestOf(ctx: BotContext, base: BotJobRecord | undefined, command: BotCommand): Promise<{ request: ImagineRequest } | { text: string }> {
  if (command.kind === 'imagine') return { request: command.request }
  if (command.kind !== 'reroll' && command.kind !== 'without') throw new Error(`requestOf: ${command.kind}`)
  if (!base) return { text: UNKNOWN_JOB }
  const seed = await effectiveSeed(ctx.config, base.request)
  if (command.kind === 'reroll') return { request: rerollRequest(base.request, seed) }
  const built = withoutRequest(base.request, seed, command.negative)
  return built.ok ? { request: built.value } : { text: built.message }
}

/** What a click on a button of a job this install does not know (forged, foreign, forgotten) is told. */
export const UNKNOWN_JOB = 'I cannot find that image any more; try /imagine again.'

/** The job a button (or a "Without…" answer) refers to (looked up in the install's job store). */
export function baseJobOf(command: BotCommand): string | undefined {
  return command.kind === 'reroll' || command.kind === 'without' || command.kind === 'ask_without' ? command.job : undefined
}

function refusalText(entry: Extract<Entry, { kind: 'refused' }>, rate: BotSettings['userRate']): string {
  if (entry.refusedBy === 'user_rate') {
    return `You're drawing faster than this workspace allows (${rate.count} per ${retryIn(rate.periodSeconds)}). Try again in ${retryIn(entry.retryAfterSeconds)} — or /link your own API key.`
  }
  return `This workspace's images are all busy right now. Try again in ${retryIn(entry.retryAfterSeconds)}.`
}

/** A generation: admitted by `entry`, its request resolved (from `base` for a button), submitted to the job engine (as job `jobId`) for the right key. */
async function generate(ctx: BotContext, install: InstallStub, event: BotEvent, entry: Entry, jobId: string, base: BotJobRecord | undefined): Promise<Outcome> {
  const { settings } = ctx
  if (entry.kind === 'refused') return { kind: 'text', text: refusalText(entry, settings.userRate) }
  const slot = entry.kind === 'admitted' ? entry.slot : undefined
  const giveBack = async () => {
    if (slot === undefined) return
    await install.release(slot)
    await install.refund(event.user.id, settings.userRate)
  }
  const link = entry.kind === 'new' ? entry.link : null
  const resolved = await requestOf(ctx, base, event.command)
  if ('text' in resolved) {
    await giveBack()
    return { kind: 'text', text: resolved.text }
  }
  const payer = link ? accountStubById(ctx.env, link.account) : await operatorAccount(ctx.env, settings.apiKey)
  const record: BotJobRecord = {
    id: jobId,
    request: resolved.request,
    platform: event.platform,
    install: event.install,
    user: event.user.id,
    created: Date.now(),
    target: event.target,
    via: link ? 'link' : 'install',
    ...(slot === undefined ? {} : { slot }),
  }
  const submitted = await ctx.jobs.submit({ id: jobId, payer, request: resolved.request })
  // Requests of one key in flight at once are capped; a submission holds its slot for milliseconds, so a
  // burst of commands waits a moment rather than being refused.
  if (!submitted.ok && submitted.transient) return { kind: 'later', delaySeconds: Math.max(1, submitted.retryAfterSeconds ?? 1) }
  if (!submitted.ok) {
    await giveBack()
    if (submitted.keyGone && !link) console.error(`bots: BOT_API_KEY is unknown or revoked (${event.platform} ${event.install})`)
    const text = submitted.keyGone
      ? link
        ? 'Your linked API key no longer works. /unlink, or /link a new one.'
        : 'This bot is not set up right now (its API key does not work). Tell its operator.'
      : submitted.retryAfterSeconds !== undefined
        ? `${submitted.message} Try again in ${retryIn(submitted.retryAfterSeconds)}.`
        : submitted.message
    return { kind: 'text', text }
  }
  if (submitted.image) {
    const answer = { job: submitted.job, imageUrl: submitted.image.url, request: resolved.request, seed: submitted.image.seed, userId: event.target.platform === 'slack' ? event.target.userId : event.user.id }
    return { kind: 'image', answer, record }
  }
  return { kind: 'queued', job: submitted.job, request: resolved.request, record }
}

async function link(ctx: BotContext, install: InstallStub, event: BotEvent, text: string): Promise<Outcome> {
  const code = normalizeLinkCode(text)
  if (!code) return { kind: 'text', text: 'That is not a link code (it looks like ABCDE-12345). Get one with POST /v1/bot-links.' }
  const redeemed = await linkCodeStub(ctx.env, code).redeem(`${event.platform}:${event.install}:${event.user.id}`)
  if (!redeemed.ok) {
    const why = { unknown: 'I do not know that code.', expired: 'That code has expired (codes last 10 minutes).', used: 'That code was used already.' }[redeemed.reason]
    return { kind: 'text', text: `${why} Get a new one with POST /v1/bot-links.` }
  }
  const record = await accountStubById(ctx.env, redeemed.record.account).authenticate()
  if (!record) return { kind: 'text', text: 'The API key behind that code no longer works.' }
  await install.link(event.user.id, { account: redeemed.record.account, keyId: record.id, linkedAt: Math.floor(Date.now() / 1000) })
  return { kind: 'text', text: `Linked: your images here now use your API key ${record.id} (plan ${record.plan}) and its limits. /unlink to stop.` }
}

async function quota(ctx: BotContext, install: InstallStub, event: BotEvent): Promise<Outcome> {
  const { settings } = ctx
  const mine = await install.quota(event.user.id, settings.userRate, settings.installConcurrency)
  if (mine.link) {
    const usage = await accountStubById(ctx.env, mine.link.account).usage()
    if (!usage) return { kind: 'text', text: 'Your linked API key no longer works. /unlink, or /link a new one.' }
    return {
      kind: 'text',
      text: `Your API key ${usage.keyId} (plan ${usage.plan}): ${usage.remaining.images} of ${usage.limits.imagesPerDay} images left today, ${usage.remaining.requests} requests available now (${usage.limits.requestsPerMinute}/min).`,
    }
  }
  const shared = await (await operatorAccount(ctx.env, settings.apiKey)).usage()
  const next = mine.tokens > 0 ? '' : ` The next one in ${retryIn(mine.nextInSeconds)}.`
  return {
    kind: 'text',
    text:
      `You can draw ${mine.tokens} more right now (${settings.userRate.count} per ${retryIn(settings.userRate.periodSeconds)}, ${mine.burst} at once).${next} ` +
      `${mine.inFlight} of ${mine.concurrency} of this workspace's images are being drawn` +
      (shared ? `; ${shared.remaining.images} images left today on the shared key.` : '.') +
      ' /link your own API key for your own quota.',
  }
}

/**
 * One event, once it passed verification and deduplication (`entry` is `install.enter`'s verdict):
 * what to tell the platform. Generations become jobs; /link, /unlink, /quota and "Without…" are
 * answered on the spot.
 */
export async function handleCommand(ctx: BotContext, install: InstallStub, event: BotEvent, entry: Entry, options: { jobId?: string; base?: BotJobRecord } = {}): Promise<Outcome> {
  const { command } = event
  switch (command.kind) {
    case 'imagine':
    case 'reroll':
    case 'without':
      return generate(ctx, install, event, entry, options.jobId ?? newJobId(), options.base)
    case 'ask_without':
      return options.base ? { kind: 'ask_without', job: command.job, prompt: options.base.request.prompt } : { kind: 'text', text: UNKNOWN_JOB }
    case 'link':
      return link(ctx, install, event, command.code)
    case 'unlink': {
      const previous = await install.unlink(event.user.id)
      return { kind: 'text', text: previous ? `Unlinked ${previous.keyId}: you are back on this workspace's shared quota.` : 'You had no API key linked here.' }
    }
    case 'quota':
      return quota(ctx, install, event)
    case 'invalid':
      return { kind: 'text', text: command.message }
    case 'help':
      return { kind: 'text', text: HELP_TEXT }
  }
}
