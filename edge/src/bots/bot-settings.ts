import { z } from 'zod'
import type { BotDeliveryMessage } from './bot-target.ts'

/** The chat platforms the edge answers. */
export const PLATFORMS = ['discord', 'slack', 'telegram'] as const
export type Platform = (typeof PLATFORMS)[number]

/**
 * The chat bots' bindings (`[vars]` in wrangler.toml, secrets from `.dev.vars` or `wrangler secret
 * put`). Every one is optional: a platform whose settings are absent is off (its routes answer 404).
 *
 * | binding | default | meaning |
 * | --- | --- | --- |
 * | `BOT_API_KEY` | (secret) | the operator's API key every install is charged to (unlinked users spend it) |
 * | `BOT_USER_RATE` | `5/min, burst 3` | per unlinked user: `<n>/<s|min|h>[, burst <b>]` (a token bucket) |
 * | `BOT_INSTALL_CONCURRENCY` | `4` | jobs of an install's unlinked users in flight at once |
 * | `DISCORD_PUBLIC_KEY` | (off) | the application's Ed25519 public key (64 hex); with `BOT_API_KEY`, turns Discord on |
 * | `DISCORD_APPLICATION_ID` | (any) | when set, interactions of another application are refused (401) |
 * | `DISCORD_BOT_TOKEN` | (none, secret) | fallback posting (`POST /channels/{id}/messages`) once an interaction token is gone |
 * | `DISCORD_API_BASE` | `https://discord.com/api/v10` | trusted base of Discord's REST API |
 * | `SLACK_SIGNING_SECRET` | (off, secret) | v0 request signing; with `BOT_API_KEY`, turns Slack on |
 * | `SLACK_BOT_TOKEN` | (none, secret) | `chat.postMessage` fallback and the "Without…" modal (`views.open`) |
 * | `SLACK_API_BASE` | `https://slack.com/api` | trusted base of Slack's Web API |
 * | `SLACK_RESPONSE_URL_PREFIX` | `https://hooks.slack.com/` | a `response_url` elsewhere is refused |
 * | `TELEGRAM_BOT_TOKEN` | (off, secret) | the bot's token; with the secret and `BOT_API_KEY`, turns Telegram on |
 * | `TELEGRAM_WEBHOOK_SECRET` | (off, secret) | `X-Telegram-Bot-Api-Secret-Token` (set by `npm run bots:register -- --telegram`) |
 * | `TELEGRAM_API_BASE` | `https://api.telegram.org` | trusted base of the Bot API |
 * | `TELEGRAM_BOT_USERNAME` | (from `getMe`, cached) | the `@BotName` that `/imagine@BotName` addresses |
 *
 * The `*_API_BASE` settings are the operator's and trusted (any scheme; the webhook SSRF rules do
 * not apply to them). Bots also need `PUBLIC_BASE_URL` (image URLs the platforms fetch).
 */
export interface BotBindings {
  BOT_API_KEY?: string
  BOT_USER_RATE?: string
  BOT_INSTALL_CONCURRENCY?: string
  DISCORD_PUBLIC_KEY?: string
  DISCORD_APPLICATION_ID?: string
  DISCORD_BOT_TOKEN?: string
  DISCORD_API_BASE?: string
  SLACK_SIGNING_SECRET?: string
  SLACK_BOT_TOKEN?: string
  SLACK_API_BASE?: string
  SLACK_RESPONSE_URL_PREFIX?: string
  TELEGRAM_BOT_TOKEN?: string
  TELEGRAM_WEBHOOK_SECRET?: string
  TELEGRAM_API_BASE?: string
  TELEGRAM_BOT_USERNAME?: string
  /** One `BotInstall` per install (`idFromName('<platform>:<install id>')`): dedupe, links, limits, bot jobs. */
  BOT_INSTALLS?: DurableObjectNamespace
  /** One `BotLinkCode` per one-time link code (`idFromName(code)`). */
  BOT_LINK_CODES?: DurableObjectNamespace
  /** The bot delivery queue (producer; the same worker consumes it). */
  BOT_DELIVERIES?: Queue<BotDeliveryMessage>
  /** Its dead-letter queue: deliveries that can never succeed (target gone, refused for good). */
  BOT_DEAD_LETTERS?: Queue<BotDeliveryMessage>
}

/** A token bucket per unlinked user: `perSecond` refill, `burst` capacity. */
export interface UserRate {
  count: number
  periodSeconds: number
  burst: number
}

const PERIODS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 }
const RATE = /^\s*(\d{1,6})\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*(?:[,;]?\s*burst\s*[=:]?\s*(\d{1,6}))?\s*$/i

/** `5/min, burst 3` → `{count: 5, periodSeconds: 60, burst: 3}`; no burst: the count. Null when malformed. */
export function parseUserRate(text: string): UserRate | null {
  const match = RATE.exec(text)
  if (!match) return null
  const count = Number(match[1])
  const burst = match[3] === undefined ? count : Number(match[3])
  if (count < 1 || burst < 1) return null
  return { count, periodSeconds: PERIODS[(match[2] as string).toLowerCase()] as number, burst }
}

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))

/** A trusted API base: any URL (any scheme, e.g. a local fake server), without a trailing slash. */
function apiBase(fallback: string) {
  return optionalText.pipe(
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        const text = v ?? fallback
        try {
          return new URL(text).href.replace(/\/+$/, '')
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a URL' })
          return z.NEVER
        }
      }),
  )
}

function matching(pattern: RegExp, message: string) {
  return optionalText.pipe(z.string().regex(pattern, message).optional())
}

const botSettingsSchema = z.object({
  BOT_API_KEY: matching(/^snp_live_[0-9A-Za-z]{38}$/, 'must be an API key (snp_live_…)'),
  BOT_USER_RATE: optionalText.transform((v, ctx) => {
    const rate = parseUserRate(v ?? '5/min, burst 3')
    if (!rate) {
      ctx.addIssue({ code: 'custom', message: 'must look like "5/min, burst 3" (per s, min or h)' })
      return z.NEVER
    }
    return rate
  }),
  BOT_INSTALL_CONCURRENCY: optionalText.transform((v, ctx) => {
    const n = v === undefined ? 4 : Number(v)
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      ctx.addIssue({ code: 'custom', message: 'must be a whole number from 1 to 1000' })
      return z.NEVER
    }
    return n
  }),
  DISCORD_PUBLIC_KEY: matching(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (the application\'s public key)').transform((v) => v?.toLowerCase()),
  DISCORD_APPLICATION_ID: matching(/^\d{1,20}$/, 'must be a snowflake (digits)'),
  DISCORD_BOT_TOKEN: optionalText,
  DISCORD_API_BASE: apiBase('https://discord.com/api/v10'),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_API_BASE: apiBase('https://slack.com/api'),
  SLACK_RESPONSE_URL_PREFIX: optionalText.transform((v, ctx) => {
    const text = v ?? 'https://hooks.slack.com/'
    try {
      new URL(text)
      return text
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a URL prefix' })
      return z.NEVER
    }
  }),
  TELEGRAM_BOT_TOKEN: matching(/^\d{1,20}:[A-Za-z0-9_-]{1,200}$/, 'must look like 123456:ABC-DEF… (from @BotFather)'),
  // Telegram's own rule for secret_token: 1–256 of A–Z, a–z, 0–9, _ and -.
  TELEGRAM_WEBHOOK_SECRET: matching(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1–256 characters of A-Z, a-z, 0-9, _ and -'),
  TELEGRAM_API_BASE: apiBase('https://api.telegram.org'),
  TELEGRAM_BOT_USERNAME: matching(/^@?[A-Za-z0-9_]{3,64}$/, 'must be a bot username').transform((v) => v?.replace(/^@/, '')),
})

type ParsedSettings = z.infer<typeof botSettingsSchema>

/** The settings of the platforms that are on; a platform is on when its secrets and `BOT_API_KEY` are set. */
export interface BotSettings {
  apiKey: string
  userRate: UserRate
  installConcurrency: number
  discord?: { publicKey: string; applicationId?: string; botToken?: string; apiBase: string }
  slack?: { signingSecret: string; botToken?: string; apiBase: string; responseUrlPrefix: string }
  telegram?: { botToken: string; webhookSecret: string; apiBase: string; botUsername?: string; botId: string }
}

export type BotSettingsResult = { ok: true; settings: BotSettings | null } | { ok: false; problems: string[] }

/** The platforms a parsed settings object turns on. */
function platformsOf(p: ParsedSettings): BotSettings | null {
  if (!p.BOT_API_KEY) return null
  const settings: BotSettings = { apiKey: p.BOT_API_KEY, userRate: p.BOT_USER_RATE, installConcurrency: p.BOT_INSTALL_CONCURRENCY }
  if (p.DISCORD_PUBLIC_KEY) {
    settings.discord = {
      publicKey: p.DISCORD_PUBLIC_KEY,
      apiBase: p.DISCORD_API_BASE,
      ...(p.DISCORD_APPLICATION_ID ? { applicationId: p.DISCORD_APPLICATION_ID } : {}),
      ...(p.DISCORD_BOT_TOKEN ? { botToken: p.DISCORD_BOT_TOKEN } : {}),
    }
  }
  if (p.SLACK_SIGNING_SECRET) {
    settings.slack = {
      signingSecret: p.SLACK_SIGNING_SECRET,
      apiBase: p.SLACK_API_BASE,
      responseUrlPrefix: p.SLACK_RESPONSE_URL_PREFIX,
      ...(p.SLACK_BOT_TOKEN ? { botToken: p.SLACK_BOT_TOKEN } : {}),
    }
  }
  if (p.TELEGRAM_BOT_TOKEN && p.TELEGRAM_WEBHOOK_SECRET) {
    settings.telegram = {
      botToken: p.TELEGRAM_BOT_TOKEN,
      webhookSecret: p.TELEGRAM_WEBHOOK_SECRET,
      apiBase: p.TELEGRAM_API_BASE,
      // The bot's user id is the token's part before the colon.
      botId: p.TELEGRAM_BOT_TOKEN.split(':')[0] as string,
      ...(p.TELEGRAM_BOT_USERNAME ? { botUsername: p.TELEGRAM_BOT_USERNAME } : {}),
    }
  }
  return settings.discord || settings.slack || settings.telegram ? settings : null
}

const parsed = new WeakMap<object, BotSettingsResult>()

/**
 * The bots' settings, parsed once per isolate (the env object is stable). `settings: null`: every
 * platform is off. Problems name each bad binding; a bad bot setting turns the bot routes into 500s
 * (logged) and leaves the rest of the worker alone.
 */
export function botSettings(env: BotBindings): BotSettingsResult {
  let result = parsed.get(env)
  if (!result) {
    const outcome = botSettingsSchema.safeParse(env)
    result = outcome.success
      ? { ok: true, settings: platformsOf(outcome.data) }
      : { ok: false, problems: outcome.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) }
    parsed.set(env, result)
  }
  return result
}

/** Whether `platform` is on: its verification secret (Telegram: and its bot token) and `BOT_API_KEY` are set. */
export function platformOn(env: BotBindings, platform: Platform): boolean {
  const has = (v: string | undefined) => v !== undefined && v.trim() !== ''
  if (!has(env.BOT_API_KEY)) return false
  if (platform === 'discord') return has(env.DISCORD_PUBLIC_KEY)
  if (platform === 'slack') return has(env.SLACK_SIGNING_SECRET)
  return has(env.TELEGRAM_BOT_TOKEN) && has(env.TELEGRAM_WEBHOOK_SECRET)
}
