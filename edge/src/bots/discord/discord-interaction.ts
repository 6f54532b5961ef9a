import type { BotCommand, BotEvent } from '../bot-command.ts'
import { parseButtonId } from '../button-ids.ts'
import { buildRequest, parseImagineText } from '../imagine-command.ts'
import { InteractionType, NEGATIVE_INPUT_ID } from './discord-messages.ts'

/** The parts of a Discord interaction this bot reads. */
export interface Interaction {
  id: string
  application_id: string
  type: number
  token: string
  data?: {
    name?: string
    options?: { name: string; type: number; value?: string | number | boolean }[]
    custom_id?: string
    components?: ModalRow[]
  }
  guild_id?: string
  channel_id?: string
  channel?: { id?: string }
  member?: { user?: DiscordUser }
  user?: DiscordUser
}

interface DiscordUser {
  id: string
  username?: string
  global_name?: string | null
}

type ModalField = { type?: number; custom_id?: string; value?: string }
/** A modal's row (type 1 with components) or label (type 18 with one component). */
type ModalRow = { type?: number; components?: ModalField[]; component?: ModalField }

export function isInteraction(value: unknown): value is Interaction {
  const v = value as Partial<Interaction> | null
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.type === 'number' && typeof v.application_id === 'string' && typeof v.token === 'string'
}

function option(interaction: Interaction, name: string): string | number | boolean | undefined {
  return interaction.data?.options?.find((o) => o.name === name)?.value
}

function modalValue(rows: ModalRow[] | undefined, id: string): string | undefined {
  for (const row of rows ?? []) {
    for (const field of [...(row.components ?? []), ...(row.component ? [row.component] : [])]) if (field.custom_id === id) return field.value
  }
  return undefined
}

/**
 * `/imagine prompt:<text> [negative:<text>] [seed:<int>]`. The prompt may carry `--no` / `--seed`
 * flags too (as typed on the other platforms); a flag and its option both given is refused.
 */
function imagine(interaction: Interaction): BotCommand {
  const prompt = option(interaction, 'prompt')
  const negative = option(interaction, 'negative')
  const seed = option(interaction, 'seed')
  const parsed = parseImagineText(typeof prompt === 'string' ? prompt : '')
  if (!parsed.ok) return { kind: 'invalid', message: parsed.message }
  if (negative !== undefined && parsed.value.negative_prompt !== undefined) return { kind: 'invalid', message: 'give the negative prompt once: the negative option or --no' }
  if (seed !== undefined && parsed.value.seed !== undefined) return { kind: 'invalid', message: 'give the seed once: the seed option or --seed' }
  const built = buildRequest({
    prompt: parsed.value.prompt,
    negative: typeof negative === 'string' ? negative : parsed.value.negative_prompt,
    seed: seed !== undefined ? (seed as number) : parsed.value.seed,
  })
  return built.ok ? { kind: 'imagine', request: built.value } : { kind: 'invalid', message: built.message }
}

function command(interaction: Interaction): BotCommand {
  switch (interaction.type) {
    case InteractionType.APPLICATION_COMMAND:
      switch (interaction.data?.name) {
        case 'imagine':
          return imagine(interaction)
        case 'link': {
          const code = option(interaction, 'code')
          return typeof code === 'string' && code.trim() !== '' ? { kind: 'link', code } : { kind: 'invalid', message: 'usage: /link code:<code>' }
        }
        case 'unlink':
          return { kind: 'unlink' }
        case 'quota':
          return { kind: 'quota' }
        default:
          return { kind: 'help' }
      }
    case InteractionType.MESSAGE_COMPONENT: {
      const button = parseButtonId(interaction.data?.custom_id ?? '')
      if (!button) return { kind: 'invalid', message: 'this button is not one of mine' }
      return button.action === 'reroll' ? { kind: 'reroll', job: button.job } : { kind: 'ask_without', job: button.job }
    }
    case InteractionType.MODAL_SUBMIT: {
      const button = parseButtonId(interaction.data?.custom_id ?? '')
      const negative = modalValue(interaction.data?.components, NEGATIVE_INPUT_ID)
      if (!button || button.action !== 'without' || negative === undefined) return { kind: 'invalid', message: 'this form is not one of mine' }
      if (negative.trim() === '') return { kind: 'invalid', message: 'say what to leave out' }
      return { kind: 'without', job: button.job, negative }
    }
    default:
      return { kind: 'invalid', message: 'unsupported interaction' }
  }
}

/** An interaction (not a PING) as a bot event; its answer goes to the interaction token's `@original`. */
export function discordEvent(interaction: Interaction, nowMs: number): BotEvent {
  const user = interaction.member?.user ?? interaction.user
  const channelId = interaction.channel_id ?? interaction.channel?.id
  return {
    platform: 'discord',
    install: interaction.application_id,
    eventId: interaction.id,
    user: { id: user?.id ?? 'unknown', ...(user ? { name: user.global_name ?? user.username ?? user.id } : {}) },
    target: {
      platform: 'discord',
      applicationId: interaction.application_id,
      token: interaction.token,
      issuedAt: nowMs,
      ...(channelId ? { channelId } : {}),
      ...(interaction.guild_id ? { guildId: interaction.guild_id } : {}),
    },
    command: command(interaction),
  }
}
