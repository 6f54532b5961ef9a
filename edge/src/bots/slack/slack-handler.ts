import type { BotEvent } from '../bot-command.ts'
import { emptyAnswer, jsonAnswer, runEvent, toResponse, type PlatformAdapter, type Rendered } from '../bot-runner.ts'
import type { BotContext, Outcome } from '../bot-service.ts'
import { postResponseUrl, viewsOpen } from './slack-api.ts'
import { ephemeral, imageResponse, textResponse, withoutView } from './slack-messages.ts'
import { interactionEvent, isSlackResponseUrl, slashCommandEvent } from './slack-payloads.ts'
import { SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, verifySlack } from './verify-slack.ts'

type WaitUntil = (work: Promise<unknown>) => void

function generating(prompt: string): string {
  return `Generating… “${prompt}”`
}

/** Slash commands: the answer is the HTTP response itself (ephemeral, or the image in the channel on a cache hit). */
function renderCommand(outcome: Outcome): Rendered {
  switch (outcome.kind) {
    case 'later':
      return { answer: jsonAnswer(ephemeral('Working on it…')) }
    case 'queued':
      return { answer: jsonAnswer(ephemeral(generating(outcome.request.prompt))) }
    case 'image':
      return { answer: jsonAnswer(imageResponse(outcome.answer)) }
    case 'text':
      return { answer: jsonAnswer(ephemeral(outcome.text)) }
    case 'ask_without':
      // Only buttons ask; a slash command never gets here.
      return { answer: jsonAnswer(ephemeral('Use /imagine <prompt> --no <what to leave out>.')) }
  }
}

const commandAdapter: PlatformAdapter<BotEvent> = {
  pending: (event) => jsonAnswer(ephemeral(event.command.kind === 'imagine' ? generating(event.command.request.prompt) : 'Working on it…')),
  render: (outcome) => Promise.resolve(renderCommand(outcome)),
}

/**
 * Clicks and the modal's submission: Slack ignores a click's HTTP body, so its words go to the
 * click's `response_url` (after the answer); a modal's errors are shown in the modal itself.
 */
function interactionAdapter(ctx: BotContext, form: URLSearchParams, waitUntil: WaitUntil): PlatformAdapter<BotEvent> {
  const slack = ctx.settings.slack
  const post = (event: BotEvent, message: unknown) => {
    const url = event.target.platform === 'slack' ? event.target.responseUrl : undefined
    if (!url) return Promise.resolve()
    return postResponseUrl(url, message, 1).then(({ verdict }) => {
      if (verdict.kind !== 'delivered') console.warn(`bots: slack response_url post: ${verdict.kind}`)
    })
  }
  // A modal's submission carries no response_url (its answer is posted with the bot token).
  const isModal = (event: BotEvent) => event.target.platform === 'slack' && event.target.responseUrl === undefined
  return {
    // A click's HTTP body is ignored by Slack; an empty 200 closes a modal.
    pending: () => emptyAnswer(),
    // The click's own feedback (the image follows as a new message).
    accepted: (event, intake) => {
      const prompt = event.command.kind === 'imagine' ? event.command.request.prompt : intake.base?.request.prompt
      return isModal(event) || prompt === undefined ? Promise.resolve() : post(event, textResponse(generating(prompt), false))
    },
    async render(outcome, event) {
      const modal = isModal(event)
      switch (outcome.kind) {
        case 'later':
        case 'queued':
          return { answer: emptyAnswer() }
        case 'image':
          return { answer: emptyAnswer() }
        case 'text':
          if (modal) return { answer: jsonAnswer({ response_action: 'errors', errors: { negative: outcome.text.slice(0, 150) } }) }
          waitUntil(post(event, textResponse(outcome.text, false)))
          return { answer: emptyAnswer() }
        case 'ask_without': {
          const trigger = JSON.parse(form.get('payload') ?? '{}') as { trigger_id?: string }
          const channel = event.target.platform === 'slack' ? event.target.channelId : undefined
          const opened = slack?.botToken && trigger.trigger_id ? await viewsOpen({ apiBase: slack.apiBase, botToken: slack.botToken }, trigger.trigger_id, withoutView(outcome.job, outcome.prompt, channel)) : false
          if (!opened) waitUntil(post(event, textResponse(`Type it: /imagine ${outcome.prompt} --no <what to leave out>`, false)))
          return { answer: emptyAnswer() }
        }
      }
    },
  }
}

async function verified(request: Request, ctx: BotContext): Promise<{ ok: true; body: string } | { ok: false; response: Response }> {
  const slack = ctx.settings.slack
  if (!slack) throw new Error('slack: off')
  // The raw bytes as text (a form body: .text() would warn about its content type).
  const body = new TextDecoder().decode(await request.arrayBuffer())
  const ok = await verifySlack({
    signingSecret: slack.signingSecret,
    signature: request.headers.get(SLACK_SIGNATURE_HEADER),
    timestamp: request.headers.get(SLACK_TIMESTAMP_HEADER),
    body,
  })
  return ok ? { ok: true, body } : { ok: false, response: new Response('invalid request signature', { status: 401 }) }
}

/** A `response_url` outside `SLACK_RESPONSE_URL_PREFIX`: answered 200 with an ephemeral error, nothing posted, nothing started. */
function foreignResponseUrl(event: BotEvent, prefix: string): boolean {
  return event.target.platform === 'slack' && event.target.responseUrl !== undefined && !isSlackResponseUrl(event.target.responseUrl, prefix)
}

/** `POST /bots/slack/commands`: a slash command (form body), answered at once with an ephemeral message. */
export async function slackCommands(request: Request, ctx: BotContext, waitUntil: WaitUntil): Promise<Response> {
  const checked = await verified(request, ctx)
  if (!checked.ok) return checked.response
  const event = slashCommandEvent(new URLSearchParams(checked.body), Date.now())
  if (!event) return toResponse(jsonAnswer(ephemeral('This request is missing its team, user or trigger.')))
  if (foreignResponseUrl(event, (ctx.settings.slack as { responseUrlPrefix: string }).responseUrlPrefix)) {
    console.warn(`bots: slack response_url outside SLACK_RESPONSE_URL_PREFIX refused (team ${event.install})`)
    return toResponse(jsonAnswer(ephemeral('This request carries a response URL I will not post to.')))
  }
  return runEvent(ctx, event, commandAdapter, waitUntil)
}

/** `POST /bots/slack/interactivity`: button clicks (`block_actions`) and the "Without…" modal (`view_submission`). */
export async function slackInteractivity(request: Request, ctx: BotContext, waitUntil: WaitUntil): Promise<Response> {
  const checked = await verified(request, ctx)
  if (!checked.ok) return checked.response
  const form = new URLSearchParams(checked.body)
  const event = interactionEvent(form, Date.now())
  if (!event) return toResponse(emptyAnswer())
  if (foreignResponseUrl(event, (ctx.settings.slack as { responseUrlPrefix: string }).responseUrlPrefix)) {
    console.warn(`bots: slack response_url outside SLACK_RESPONSE_URL_PREFIX refused (team ${event.install})`)
    return toResponse(jsonAnswer(ephemeral('This request carries a response URL I will not post to.')))
  }
  return runEvent(ctx, event, interactionAdapter(ctx, form, waitUntil), waitUntil)
}
