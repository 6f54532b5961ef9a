import { newJobId } from '../jobs/job-record.ts'
import type { BotEvent } from './bot-command.ts'
import type { StoredIntake } from './bot-install.ts'
import { baseJobOf, generates, handleCommand, installStub, type BotContext, type InstallStub, type Outcome } from './bot-service.ts'
import type { StoredAnswer } from './bot-target.ts'

/** What a platform's adapter turns an outcome into: the HTTP answer. */
export interface Rendered {
  answer: StoredAnswer
}

export interface PlatformAdapter<E extends BotEvent> {
  /**
   * The answer to a generation, given before its job exists (Discord's deferred type 5, Slack's
   * "Generating…", Telegram's chat action); also what a duplicate gets.
   */
  pending(event: E): StoredAnswer
  /** The answer to anything else (it may call the platform first: Slack's modal, Telegram's prompt). */
  render(outcome: Outcome, event: E): Promise<Rendered>
  /** A side effect once a generation's job is queued (a Slack click's "Generating…"); optional. */
  queued?(outcome: Extract<Outcome, { kind: 'queued' | 'image' }>, event: E): Promise<void>
}

export function jsonAnswer(body: unknown, status = 200): StoredAnswer {
  return { status, contentType: 'application/json; charset=utf-8', body: body === undefined ? '' : JSON.stringify(body) }
}

export function emptyAnswer(): StoredAnswer {
  return { status: 200, contentType: 'text/plain; charset=utf-8', body: '' }
}

export function toResponse(answer: StoredAnswer): Response {
  return new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers: answer.body === '' ? {} : { 'content-type': answer.contentType } })
}

/**
 * Starts an answered generation: claims its intake (so it starts once, whoever asks), submits its job
 * (whose id was drawn before the answer: starting it twice makes one job), and hands the job — or,
 * when the key refused it, the words why — to the delivery queue. Called after the answer by the
 * answering request, and by the queue consumer when the install's watchdog finds an intake that stalled.
 */
export async function startIntake(ctx: BotContext, install: InstallStub, eventId: string, queued?: (outcome: Extract<Outcome, { kind: 'queued' | 'image' }>) => Promise<void>): Promise<void> {
  const intake: StoredIntake | null = await install.claimIntake(eventId)
  if (!intake) return
  const { event, entry, jobId } = intake
  const outcome = await handleCommand(ctx, install, event, entry, jobId)
  if (outcome.kind === 'queued' || outcome.kind === 'image') {
    await ctx.jobs.deliver(outcome.record, eventId)
    if (queued) await queued(outcome).catch((error: unknown) => console.warn(`bots: ${event.platform} side effect of ${eventId} failed:`, error))
  } else if (outcome.kind === 'text') {
    await ctx.jobs.notify(event, outcome.text, eventId)
  } else {
    await install.intakeDone(eventId)
  }
}

/**
 * One verified event, on every platform. One call to its install's Durable Object deduplicates it,
 * admits it (the user's bucket, the install's cap) and, for a generation, records its intake and its
 * answer. A generation is answered at once (the platforms' deadlines are 3 s; the job engine's
 * admission and enqueue happen after the answer) and started in the background; should this isolate
 * die first, the install's watchdog starts it from the intake record, so nothing asked for is lost.
 * Anything else is answered on the spot. A duplicate gets the same answer and starts nothing.
 */
export async function runEvent<E extends BotEvent>(ctx: BotContext, event: E, adapter: PlatformAdapter<E>, waitUntil: (work: Promise<unknown>) => void): Promise<Response> {
  const install = installStub(ctx.env, event.platform, event.install)
  const generation = generates(event.command)
  const pending = adapter.pending(event)
  const jobId = newJobId()
  const baseJob = baseJobOf(event.command)
  const entry = await install.enter({
    event: event.eventId,
    user: event.user.id,
    admit: generation,
    rate: ctx.settings.userRate,
    concurrency: ctx.settings.installConcurrency,
    ...(baseJob === undefined ? {} : { baseJob }),
    ...(generation ? { answer: pending, intake: { event, jobId, baseUrl: ctx.config.PUBLIC_BASE_URL ?? '' } } : {}),
  })
  if (entry.kind === 'duplicate') return toResponse(entry.answer ?? pending)
  if (generation && (entry.kind === 'new' || entry.kind === 'admitted')) {
    waitUntil(
      startIntake(ctx, install, event.eventId, adapter.queued ? (outcome) => (adapter.queued as NonNullable<typeof adapter.queued>)(outcome, event) : undefined).catch((error: unknown) => {
        // The install's watchdog starts it again.
        console.error(`bots: starting ${event.platform} event ${event.eventId} failed (the watchdog retries):`, error)
      }),
    )
    return toResponse(pending)
  }
  const outcome = await handleCommand(ctx, install, event, entry, jobId)
  const rendered = await adapter.render(outcome, event)
  waitUntil(
    install.answer(event.eventId, rendered.answer).catch((error: unknown) => {
      console.warn(`bots: storing the answer of ${event.platform} event ${event.eventId} failed:`, error)
    }),
  )
  return toResponse(rendered.answer)
}
