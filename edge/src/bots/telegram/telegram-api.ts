import { clip, clipBytes, imageCaption, type ImageAnswer } from '../bot-answer.ts'
import { BUTTON_LABELS, buttonId, MAX_BUTTON_ID_BYTES } from '../button-ids.ts'
import { backoffSeconds, rateLimitDelay, type DeliveryVerdict } from '../delivery-policy.ts'
import { callPlatform, deliverCall, type PlatformAnswer } from '../platform-http.ts'

export interface TelegramApi {
  apiBase: string
  botToken: string
}

/** A photo's caption, at most 1024 characters. */
export const MAX_CAPTION = 1024

function methodUrl(api: TelegramApi, method: string): string {
  return `${api.apiBase}/bot${api.botToken}/${method}`
}

/**
 * A Bot API answer: `{ok: true}`, or `{ok: false, error_code, description, parameters: {retry_after}}`
 * (429 with `retry_after`; 5xx is theirs; any other code is final: blocked, chat gone, bad request).
 */
function botApiVerdict(answer: PlatformAnswer, attempt: number): DeliveryVerdict {
  const body = answer.json as { ok?: boolean; error_code?: number; description?: string } | null
  if (answer.status === 200 && body?.ok === true) return { kind: 'delivered' }
  const code = body?.error_code ?? answer.status
  if (code === 429) return { kind: 'retry', delaySeconds: rateLimitDelay(answer.retryAfterSeconds, attempt), reason: 'rate limited (429)' }
  if (code >= 500) return { kind: 'retry', delaySeconds: backoffSeconds(attempt), reason: `telegram: ${code}` }
  return { kind: 'failed', reason: `telegram: ${code} ${body?.description ?? ''}`.trim() }
}

/** One Bot API call, with its verdict and result. */
export async function botApiCall(api: TelegramApi, method: string, params: unknown, attempt = 1): Promise<{ verdict: DeliveryVerdict; result?: unknown }> {
  const { verdict, answer } = await deliverCall(methodUrl(api, method), { method: 'POST', body: params }, attempt, { accept: (a) => botApiVerdict(a, attempt) })
  return { verdict, result: (answer?.json as { result?: unknown } | null)?.result }
}

function keyboard(job: string) {
  const ids = [buttonId('reroll', job), buttonId('without', job)]
  for (const id of ids) if (new TextEncoder().encode(id).length > MAX_BUTTON_ID_BYTES) throw new Error(`callback_data over ${MAX_BUTTON_ID_BYTES} bytes: ${id}`)
  return { inline_keyboard: [[{ text: BUTTON_LABELS.reroll, callback_data: ids[0] }, { text: BUTTON_LABELS.without, callback_data: ids[1] }]] }
}

function replyTo(messageId: number | undefined) {
  return messageId === undefined ? {} : { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } }
}

/** `sendPhoto` by URL (Telegram fetches it: post only once the PNG is in R2), the prompt as caption, replying to the command. */
export function photoMessage(answer: ImageAnswer, chatId: number | string, replyToId?: number) {
  return { chat_id: chatId, photo: answer.imageUrl, caption: clip(imageCaption(answer), MAX_CAPTION), ...replyTo(replyToId), reply_markup: keyboard(answer.job) }
}

export function textMessage(text: string, chatId: number | string, replyToId?: number) {
  return { chat_id: chatId, text: clip(text, 4096), ...replyTo(replyToId) }
}

/** The "Without…" prompt: a message the user answers with a reply (`force_reply`). */
export function withoutPrompt(prompt: string, chatId: number | string, replyToId?: number) {
  return {
    chat_id: chatId,
    text: clip(`What should I leave out of “${prompt}”? Reply to this message.`, 4096),
    ...replyTo(replyToId),
    reply_markup: { force_reply: true, selective: true, input_field_placeholder: 'e.g. snow, trees, text' },
  }
}

/**
 * A method call carried in the webhook's own answer (Telegram runs it; no extra request): the
 * "sending photo" chat action, a text reply, a callback's answer.
 */
export function webhookReply(method: string, params: Record<string, unknown>): Record<string, unknown> {
  return { method, ...params }
}

export function chatAction(chatId: number | string) {
  return webhookReply('sendChatAction', { chat_id: chatId, action: 'upload_photo' })
}

export function answerCallback(callbackQueryId: string, text?: string) {
  return webhookReply('answerCallbackQuery', { callback_query_id: callbackQueryId, ...(text ? { text: clipBytes(text, 200) } : {}) })
}

// The bot's @username, from getMe, cached per isolate (it never changes for a token).
const usernames = new Map<string, Promise<string | undefined>>()

/** The bot's username: `TELEGRAM_BOT_USERNAME`, else `getMe` (once per isolate; a failure is not cached). */
export function botUsername(api: TelegramApi, configured?: string): Promise<string | undefined> {
  if (configured) return Promise.resolve(configured)
  let cached = usernames.get(api.botToken)
  if (!cached) {
    cached = callPlatform(methodUrl(api, 'getMe'), { method: 'POST', body: {} }).then(
      (answer) => {
        const username = (answer.json as { result?: { username?: string } } | null)?.result?.username
        if (!username) usernames.delete(api.botToken)
        return username
      },
      () => {
        usernames.delete(api.botToken)
        return undefined
      },
    )
    usernames.set(api.botToken, cached)
  }
  return cached
}

/** The commands `npm run bots:register -- --telegram` sets (`setMyCommands`). */
export const TELEGRAM_COMMANDS = [
  { command: 'imagine', description: 'Draw it: /imagine <prompt> --no <what to leave out>' },
  { command: 'link', description: 'Spend your own API key: /link <code>' },
  { command: 'unlink', description: 'Back to the shared quota' },
  { command: 'quota', description: 'What you have left' },
]

/** The updates the webhook takes. */
export const TELEGRAM_ALLOWED_UPDATES = ['message', 'callback_query']
