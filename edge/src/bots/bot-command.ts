import type { Platform } from './bot-settings.ts'
import type { BotUser, DeliveryTarget } from './bot-target.ts'
import type { ImagineRequest } from './imagine-command.ts'

/** What a user asked for, the same on every platform once its payload is parsed. */
export type BotCommand =
  | { kind: 'imagine'; request: ImagineRequest }
  /** A command that could not be parsed: `message` tells the user why (an ephemeral answer). */
  | { kind: 'invalid'; message: string }
  | { kind: 'reroll'; job: string }
  /** "Without…" clicked: ask what to leave out. */
  | { kind: 'ask_without'; job: string }
  /** "Without…" answered: a new job without `negative`. */
  | { kind: 'without'; job: string; negative: string }
  | { kind: 'link'; code: string }
  | { kind: 'unlink' }
  | { kind: 'quota' }
  | { kind: 'help' }

/** One platform event, parsed: who, where the answer goes, what they asked, and the id that dedupes it. */
export interface BotEvent {
  platform: Platform
  /** The install's id within its platform (Discord application, Slack team, Telegram bot). */
  install: string
  /** The platform's event id: Discord's interaction id, Slack's trigger id, Telegram's update id. */
  eventId: string
  user: BotUser
  target: DeliveryTarget
  command: BotCommand
}

export const HELP_TEXT = [
  '/imagine <prompt> [--no <what to leave out>] [--seed <number>] — draw it',
  '/link <code> — spend your own API key (get a code with POST /v1/bot-links)',
  '/unlink — back to this workspace\'s shared quota',
  '/quota — what you have left',
].join('\n')

/** `/link`, `/unlink`, `/quota` and `/imagine` as text (Slack and Telegram), after the command word. */
export function textCommand(name: string, text: string, parseImagine: (text: string) => BotCommand): BotCommand | null {
  switch (name.toLowerCase()) {
    case 'imagine':
      return parseImagine(text)
    case 'link': {
      const code = text.trim()
      return code === '' ? { kind: 'invalid', message: 'usage: /link <code> (get a code with POST /v1/bot-links)' } : { kind: 'link', code }
    }
    case 'unlink':
      return { kind: 'unlink' }
    case 'quota':
      return { kind: 'quota' }
    case 'help':
    case 'start':
      return { kind: 'help' }
    default:
      return null
  }
}
