import { constantTimeEqual } from '../bot-crypto.ts'

export const TELEGRAM_SECRET_HEADER = 'x-telegram-bot-api-secret-token'

/** Telegram's webhook check: the secret header equals `TELEGRAM_WEBHOOK_SECRET` (set with `setWebhook`), in constant time. */
export function verifyTelegram(secret: string, header: string | null | undefined): boolean {
  return header !== null && header !== undefined && constantTimeEqual(header, secret)
}
