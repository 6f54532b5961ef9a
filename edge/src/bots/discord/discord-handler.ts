import type { BotEvent } from '../bot-command.ts'
import { jsonAnswer, runEvent, type PlatformAdapter, type Rendered } from '../bot-runner.ts'
import type { BotContext, Outcome } from '../bot-service.ts'
import { discordEvent, isInteraction } from './discord-interaction.ts'
import { deferred, ephemeral, immediate, imageMessage, InteractionType, pong, withoutModal } from './discord-messages.ts'
import { DISCORD_SIGNATURE_HEADER, DISCORD_TIMESTAMP_HEADER, verifyDiscord } from './verify-discord.ts'

function renderNow(outcome: Outcome): Rendered {
  switch (outcome.kind) {
    case 'later':
    case 'queued':
      return { answer: jsonAnswer(deferred) }
    case 'image':
      // Generations are answered by `pending` (type 5) and delivered later; this is an image outcome's
      // answer should one ever be rendered on the spot (type 4, the image at once).
      return { answer: jsonAnswer(immediate(imageMessage(outcome.answer))) }
    case 'ask_without':
      return { answer: jsonAnswer(withoutModal(outcome.job, outcome.prompt)) }
    case 'text':
      return { answer: jsonAnswer(ephemeral(outcome.text)) }
  }
}

const adapter: PlatformAdapter<BotEvent> = {
  // A duplicate while the first is in flight: the deferred answer (the image follows on the token).
  pending: () => jsonAnswer(deferred),
  render: (outcome) => Promise.resolve(renderNow(outcome)),
}

/**
 * `POST /bots/discord/interactions`: the signature first (401 when it is missing, stale or wrong),
 * PING → PONG, then the interaction, answered within Discord's 3 seconds: `/imagine` and button
 * clicks with the deferred answer (type 5) while their job runs; "Without…" with its modal (type 9);
 * /link, /unlink, /quota and refusals with an ephemeral message.
 */
export async function discordInteractions(request: Request, ctx: BotContext, waitUntil: (work: Promise<unknown>) => void): Promise<Response> {
  const discord = ctx.settings.discord
  if (!discord) throw new Error('discordInteractions: Discord is off')
  const body = await request.text()
  const verified = await verifyDiscord({
    publicKeyHex: discord.publicKey,
    signature: request.headers.get(DISCORD_SIGNATURE_HEADER),
    timestamp: request.headers.get(DISCORD_TIMESTAMP_HEADER),
    body,
  })
  if (!verified) return new Response('invalid request signature', { status: 401 })
  let interaction: unknown
  try {
    interaction = JSON.parse(body)
  } catch {
    return new Response('not JSON', { status: 400 })
  }
  if (!isInteraction(interaction)) return new Response('not an interaction', { status: 400 })
  if (discord.applicationId && interaction.application_id !== discord.applicationId) return new Response('another application', { status: 401 })
  if (interaction.type === InteractionType.PING) return Response.json(pong)
  const event = discordEvent(interaction, Date.now())
  return runEvent(ctx, event, adapter, waitUntil)
}
