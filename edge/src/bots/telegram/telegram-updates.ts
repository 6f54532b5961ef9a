import { textCommand, type BotCommand, type BotEvent } from '../bot-command.ts'
import { parseButtonId } from '../button-ids.ts'
import { parseImagineText } from '../imagine-command.ts'

interface TelegramUser {
  id: number
  is_bot?: boolean
  username?: string
  first_name?: string
}

interface TelegramMessage {
  message_id: number
  from?: TelegramUser
  chat: { id: number; type?: string }
  text?: string
  caption?: string
  reply_to_message?: TelegramMessage
}

/** The parts of an Update this bot reads. */
export interface Update {
  update_id: number
  message?: TelegramMessage
  callback_query?: { id: string; from: TelegramUser; data?: string; message?: TelegramMessage }
}

export function isUpdate(value: unknown): value is Update {
  const v = value as Partial<Update> | null
  return typeof v === 'object' && v !== null && typeof v.update_id === 'number'
}

/** A Telegram event: the generic one, plus what only Telegram needs (the callback to answer, the reply to a "Without…" prompt). */
export type TelegramEvent = BotEvent & {
  /** A button click's callback query id (answered with `answerCallbackQuery`). */
  callbackQueryId?: string
  /** A reply to the bot's "Without…" prompt: the prompt's message id (its job is looked up) and the text. */
  reply?: { prompt: number; text: string }
}

// `/cmd`, `/cmd@BotName`, then the rest.
const COMMAND = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+([\s\S]*))?$/

function imagine(text: string): BotCommand {
  if (text.trim() === '') return { kind: 'help' }
  const parsed = parseImagineText(text)
  return parsed.ok ? { kind: 'imagine', request: parsed.value } : { kind: 'invalid', message: parsed.message }
}

/**
 * An update as a bot event, in groups and private chats alike: a command (`/imagine …`, also
 * `/imagine@BotName …`; a command addressed to another bot is not ours), a button's callback, or a
 * reply to the bot's "Without…" prompt. Null for anything else (answered 200 and ignored).
 * `username` resolves the bot's own @name, only when a command names one.
 */
export async function telegramEvent(update: Update, botId: string, username: () => Promise<string | undefined>): Promise<TelegramEvent | null> {
  const eventId = `update:${update.update_id}`
  const callback = update.callback_query
  if (callback) {
    const message = callback.message
    if (!message) return null
    const button = parseButtonId(callback.data ?? '')
    const command: BotCommand = !button ? { kind: 'invalid', message: 'this button is not one of mine' } : button.action === 'reroll' ? { kind: 'reroll', job: button.job } : { kind: 'ask_without', job: button.job }
    return {
      platform: 'telegram',
      install: botId,
      eventId,
      user: { id: String(callback.from.id), ...(callback.from.username ? { name: callback.from.username } : {}) },
      target: { platform: 'telegram', chatId: message.chat.id, replyTo: message.message_id },
      command,
      callbackQueryId: callback.id,
    }
  }
  const message = update.message
  if (!message?.from || message.from.is_bot) return null
  const text = message.text ?? ''
  const base = {
    platform: 'telegram' as const,
    install: botId,
    eventId,
    user: { id: String(message.from.id), ...(message.from.username ? { name: message.from.username } : {}) },
    target: { platform: 'telegram' as const, chatId: message.chat.id, replyTo: message.message_id },
  }
  const match = COMMAND.exec(text.trim())
  if (match) {
    const addressed = match[2]
    if (addressed !== undefined) {
      const own = await username()
      if (!own || own.toLowerCase() !== addressed.toLowerCase()) return null
    }
    const command = textCommand(match[1] as string, match[3] ?? '', imagine)
    return command ? { ...base, command } : null
  }
  const replied = message.reply_to_message
  if (replied && String(replied.from?.id) === botId && text.trim() !== '') {
    return { ...base, command: { kind: 'help' }, reply: { prompt: replied.message_id, text } }
  }
  return null
}
