import type { BotEvent } from './bot-command.ts'
import { generates, handleCommand, installStub, type BotContext, type Outcome } from './bot-service.ts'
import type { StoredAnswer } from './bot-target.ts'

/** What a platform's adapter turns an outcome into: the HTTP answer, and the job to deliver later (if any). */
export interface Rendered {
  answer: StoredAnswer
  /** A job whose image (or failure) goes out through the delivery queue once it finishes. */
  deliver?: string
}

export interface PlatformAdapter<E extends BotEvent> {
  /** What a duplicate of `event` gets while its first copy is still being answered. */
  pending(event: E): StoredAnswer
  /** The answer to `outcome` (it may call the platform first: Slack's modal, Telegram's prompt). */
  render(outcome: Outcome, event: E): Promise<Rendered>
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
 * One verified event, on every platform: deduplicate and admit it in one call to its install's
 * Durable Object, handle it, render the answer, enqueue its delivery (before answering: once the
 * platform has its answer, the job's image must not depend on this isolate living on), and store the
 * answer for duplicates. A duplicate gets the same answer and starts nothing.
 */
export async function runEvent<E extends BotEvent>(ctx: BotContext, event: E, adapter: PlatformAdapter<E>, waitUntil: (work: Promise<unknown>) => void): Promise<Response> {
  const install = installStub(ctx.env, event.platform, event.install)
  const entry = await install.enter({
    event: event.eventId,
    user: event.user.id,
    admit: generates(event.command),
    rate: ctx.settings.userRate,
    concurrency: ctx.settings.installConcurrency,
  })
  if (entry.kind === 'duplicate') return toResponse(entry.answer ?? adapter.pending(event))
  const outcome = await handleCommand(ctx, install, event, entry)
  const rendered = await adapter.render(outcome, event)
  if (rendered.deliver) await ctx.jobs.deliver(event.platform, event.install, rendered.deliver)
  waitUntil(
    install.answer(event.eventId, rendered.answer).catch((error: unknown) => {
      console.warn(`bots: storing the answer of ${event.platform} event ${event.eventId} failed:`, error)
    }),
  )
  return toResponse(rendered.answer)
}
