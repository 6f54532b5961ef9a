import type { DeliveryVerdict } from '../delivery-policy.ts'
import { deliverCall } from '../platform-http.ts'

/** An interaction token lives 15 minutes; past this (a margin for clocks) its `@original` is not tried. */
export const INTERACTION_TOKEN_MS = 15 * 60_000 - 30_000

export interface DiscordApi {
  apiBase: string
  botToken?: string
}

export type DiscordTarget = { applicationId: string; token: string; issuedAt: number; channelId?: string; guildId?: string }

/** `PATCH /webhooks/{application id}/{token}/messages/@original`: the deferred answer becomes `message`. No auth: the token is it. */
export function editOriginal(api: DiscordApi, target: DiscordTarget, message: unknown, attempt: number) {
  const url = `${api.apiBase}/webhooks/${encodeURIComponent(target.applicationId)}/${encodeURIComponent(target.token)}/messages/@original`
  // 401 (invalid webhook token) and 404 (unknown webhook/message): the token is gone.
  return deliverCall(url, { method: 'PATCH', body: message }, attempt, { goneStatuses: [401, 404] })
}

/** `POST /channels/{channel id}/messages` with the bot token: the fallback once the interaction token is gone. */
export function channelMessage(api: DiscordApi & { botToken: string }, channelId: string, message: unknown, attempt: number) {
  return deliverCall(`${api.apiBase}/channels/${encodeURIComponent(channelId)}/messages`, { method: 'POST', headers: { authorization: `Bot ${api.botToken}` }, body: message }, attempt)
}

/**
 * Delivers `message` for an interaction: its `@original` while the token lives; once it is gone
 * (15 minutes, or Discord says 401/404), a channel message through the bot token where allowed (a
 * bot token and a guild channel: a DM or a user install has no channel the bot may post in).
 * `via` says which path answered.
 */
export async function deliverDiscord(
  api: DiscordApi,
  target: DiscordTarget,
  message: unknown,
  attempt: number,
  nowMs: number,
): Promise<{ verdict: DeliveryVerdict; via: 'original' | 'channel' | 'none' }> {
  if (nowMs - target.issuedAt < INTERACTION_TOKEN_MS) {
    const { verdict } = await editOriginal(api, target, message, attempt)
    if (verdict.kind !== 'gone') return { verdict, via: 'original' }
  }
  if (api.botToken && target.channelId && target.guildId) {
    const { verdict } = await channelMessage({ ...api, botToken: api.botToken }, target.channelId, message, attempt)
    return { verdict: verdict.kind === 'gone' ? { kind: 'failed', reason: verdict.reason } : verdict, via: 'channel' }
  }
  return { verdict: { kind: 'gone', reason: 'the interaction token expired and there is no bot-token fallback here' }, via: 'none' }
}

/** The application commands `npm run bots:register -- --discord` installs (global, bulk overwrite). */
export const DISCORD_COMMANDS = [
  {
    name: 'imagine',
    description: 'Draw an image from a prompt, with an optional negative prompt',
    type: 1,
    options: [
      { type: 3, name: 'prompt', description: 'What to draw', required: true, max_length: 2000 },
      { type: 3, name: 'negative', description: 'What to leave out', required: false, max_length: 2000 },
      { type: 4, name: 'seed', description: 'A seed, for the same image again', required: false, min_value: 0 },
    ],
  },
  { name: 'link', description: 'Spend your own API key here (a code from POST /v1/bot-links)', type: 1, options: [{ type: 3, name: 'code', description: 'The link code', required: true }] },
  { name: 'unlink', description: 'Stop spending your own API key here', type: 1 },
  { name: 'quota', description: 'What you have left', type: 1 },
] as const
