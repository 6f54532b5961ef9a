import { newJobId } from '../jobs/job-record.ts'
import type { BotEvent } from './bot-command.ts'
import type { StoredIntake } from './bot-install.ts'
import { baseJobOf, generates, handleCommand, installStub, jobStoreStub, UNKNOWN_JOB, type BotContext, type Outcome } from './bot-service.ts'
import type { BotJobRecord, StoredAnswer } from './bot-target.ts'

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
  /** A side effect after a generation's answer (a Slack click's "Generating…", a Telegram click's chat action); optional. */
  accepted?(event: E, intake: StoredIntake): Promise<void>
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
 * Starts an answered generation: submits its job (whose id was drawn before the answer: starting it
 * twice makes one job) and hands it — or, when the key refused it, the words why — to the delivery
 * queue, which marks the intake started in the job store. Run by the queue consumer (the answer sent
 * the intake in a message; the front's watchdog sends it again if it is not marked started in time).
 */
export async function startIntake(ctx: BotContext, intake: StoredIntake): Promise<{ retryInSeconds?: number }> {
  const { event, entry, jobId } = intake
  if (await jobStoreStub(ctx.env, event.platform, event.install).intakeStarted(event.eventId)) return {}
  const install = installStub(ctx.env, event.platform, event.install)
  const outcome = await handleCommand(ctx, install, event, entry, { jobId, ...(intake.base ? { base: intake.base } : {}) })
  if (outcome.kind === 'later') return { retryInSeconds: outcome.delaySeconds }
  if (outcome.kind === 'queued' || outcome.kind === 'image') await ctx.jobs.deliver(outcome.record, event.eventId)
  else if (outcome.kind === 'text') await ctx.jobs.notify(event, outcome.text, event.eventId, jobId)
  return {}
}

/**
 * One verified event, on every platform. One call to its install's Durable Object deduplicates it,
 * admits it (the user's bucket, the install's cap) and, for a generation, records its intake and its
 * answer. A generation is answered at once (the platforms' deadlines are 3 s; the job engine's
 * admission and enqueue happen after the answer): the front's alarm sends its intake to the queue a
 * moment later, batched, and the consumer makes the job, so a burst of commands is answered before
 * the work it starts competes with the answers. Should that message be lost, the alarm sends it again
 * from the intake record, so nothing asked for is lost. Anything else is answered on the spot. A duplicate gets the same answer
 * and starts nothing.
 */
export async function runEvent<E extends BotEvent>(ctx: BotContext, event: E, adapter: PlatformAdapter<E>, waitUntil: (work: Promise<unknown>) => void): Promise<Response> {
  const install = installStub(ctx.env, event.platform, event.install)
  // A button refers to a job of this install's: one it does not know (forged, foreign) starts nothing.
  const baseJob = baseJobOf(event.command)
  let base: BotJobRecord | undefined
  if (baseJob !== undefined) {
    base = (await jobStoreStub(ctx.env, event.platform, event.install).job(baseJob)) ?? undefined
    if (!base) event.command = { kind: 'invalid', message: UNKNOWN_JOB }
  }
  const generation = generates(event.command)
  const pending = adapter.pending(event)
  const jobId = newJobId()
  const intake = { event, jobId, baseUrl: ctx.config.PUBLIC_BASE_URL ?? '', ...(base ? { base } : {}) }
  const entry = await install.enter({
    event: event.eventId,
    user: event.user.id,
    admit: generation,
    rate: ctx.settings.userRate,
    concurrency: ctx.settings.installConcurrency,
    ...(generation ? { answer: pending, intake } : {}),
  })
  if (entry.kind === 'duplicate') return toResponse(entry.answer ?? pending)
  if (generation && (entry.kind === 'new' || entry.kind === 'admitted')) {
    // Its start goes out from the front's alarm a moment from now, batched with the others answered meanwhile.
    if (adapter.accepted) {
      waitUntil(adapter.accepted(event, { ...intake, entry }).catch((error: unknown) => console.warn(`bots: ${event.platform} side effect of ${event.eventId} failed:`, error)))
    }
    return toResponse(pending)
  }
  const outcome = await handleCommand(ctx, install, event, entry, { jobId, ...(base ? { base } : {}) })
  const rendered = await adapter.render(outcome, event)
  waitUntil(
    install.answer(event.eventId, rendered.answer).catch((error: unknown) => {
      console.warn(`bots: storing the answer of ${event.platform} event ${event.eventId} failed:`, error)
    }),
  )
  return toResponse(rendered.answer)
}
