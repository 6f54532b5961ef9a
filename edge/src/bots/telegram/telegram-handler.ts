import { emptyAnswer, jsonAnswer, runEvent, toResponse, type PlatformAdapter } from '../bot-runner.ts'
import { jobStoreStub, type BotContext } from '../bot-service.ts'
import type { BotSettings } from '../bot-settings.ts'
import { answerCallback, botApiCall, botUsername, chatAction, textMessage, webhookReply, withoutPrompt, type TelegramApi } from './telegram-api.ts'
import { isUpdate, telegramEvent, type TelegramEvent } from './telegram-updates.ts'
import { TELEGRAM_SECRET_HEADER, verifyTelegram } from './verify-telegram.ts'

type WaitUntil = (work: Promise<unknown>) => void

function chatOf(event: TelegramEvent): { chatId: number | string; replyTo?: number } {
  if (event.target.platform !== 'telegram') throw new Error('not a Telegram event')
  return { chatId: event.target.chatId, ...(event.target.replyTo === undefined ? {} : { replyTo: event.target.replyTo }) }
}

/**
 * Telegram's answers ride on the webhook's own response (a method call Telegram runs: the "sending
 * photo" chat action, a text reply, a callback's answer); the photo itself always goes through the
 * delivery queue (`sendPhoto`, whose answer says whether it arrived).
 */
function adapter(ctx: BotContext, api: TelegramApi): PlatformAdapter<TelegramEvent> {
  return {
    // A generation: a click's callback is answered, a command gets the "sending photo" chat action.
    pending: (event) => (event.callbackQueryId ? jsonAnswer(answerCallback(event.callbackQueryId, 'Drawing…')) : jsonAnswer(chatAction(chatOf(event).chatId))),
    // A click's answer is its callback's: the chat action is a call of its own.
    accepted: async (event) => {
      if (event.callbackQueryId) await botApiCall(api, 'sendChatAction', { chat_id: chatOf(event).chatId, action: 'upload_photo' })
    },
    async render(outcome, event) {
      const { chatId, replyTo } = chatOf(event)
      switch (outcome.kind) {
        case 'later':
        case 'queued':
        case 'image':
          // Generations are answered by `pending` and started after the answer (bot-runner.ts).
          return { answer: jsonAnswer(event.callbackQueryId ? answerCallback(event.callbackQueryId, 'Drawing…') : chatAction(chatId)) }
        case 'text':
          if (event.callbackQueryId) return { answer: jsonAnswer(answerCallback(event.callbackQueryId, outcome.text)) }
          return { answer: jsonAnswer(webhookReply('sendMessage', textMessage(outcome.text, chatId, replyTo))) }
        case 'ask_without': {
          // The prompt needs its message id (the user's reply names it), so it is a call of its own.
          const sent = await botApiCall(api, 'sendMessage', withoutPrompt(outcome.prompt, chatId, replyTo))
          const messageId = (sent.result as { message_id?: number } | undefined)?.message_id
          if (sent.verdict.kind === 'delivered' && messageId !== undefined) {
            await jobStoreStub(ctx.env, 'telegram', event.install).recordAsk(`${chatId}:${messageId}`, outcome.job)
            return { answer: event.callbackQueryId ? jsonAnswer(answerCallback(event.callbackQueryId)) : emptyAnswer() }
          }
          const text = `Type it: /imagine ${outcome.prompt} --no <what to leave out>`
          return { answer: event.callbackQueryId ? jsonAnswer(answerCallback(event.callbackQueryId, text)) : emptyAnswer() }
        }
      }
    },
  }
}

/**
 * `POST /bots/telegram/webhook`: the secret header first (401 when missing or wrong), then the
 * update: commands (in groups and private chats; `/imagine@OtherBot` is not ours), button
 * callbacks, and replies to the bot's "Without…" prompt. Anything else is answered 200 and ignored.
 */
export async function telegramWebhook(request: Request, ctx: BotContext, waitUntil: WaitUntil): Promise<Response> {
  const telegram = ctx.settings.telegram as NonNullable<BotSettings['telegram']>
  if (!verifyTelegram(telegram.webhookSecret, request.headers.get(TELEGRAM_SECRET_HEADER))) return new Response('wrong secret token', { status: 401 })
  let update: unknown
  try {
    update = await request.json()
  } catch {
    return new Response('not JSON', { status: 400 })
  }
  if (!isUpdate(update)) return new Response('not an update', { status: 400 })
  const api: TelegramApi = { apiBase: telegram.apiBase, botToken: telegram.botToken }
  const event = await telegramEvent(update, telegram.botId, () => botUsername(api, telegram.botUsername))
  if (!event) return toResponse(emptyAnswer())
  if (event.reply) {
    const job = await jobStoreStub(ctx.env, 'telegram', event.install).askOf(`${chatOf(event).chatId}:${event.reply.prompt}`)
    if (!job) return toResponse(emptyAnswer())
    event.command = { kind: 'without', job, negative: event.reply.text }
  }
  return runEvent(ctx, event, adapter(ctx, api), waitUntil)
}
