import { createRoute, z } from '@hono/zod-openapi'
import { Hono, type Context } from 'hono'
import { errorSchema } from '../api/generation-schema.ts'
import { bodyLimit } from 'hono/body-limit'
import type { EdgeEnv } from '../edge-env.ts'
import { ApiError } from '../errors/api-error.ts'
import { notFoundHandler } from '../errors/error-handler.ts'
import { apiKeyAuth, requireScope } from '../middleware/api-key-auth/index.ts'
import { engineJobs } from './bot-jobs.ts'
import type { BotContext } from './bot-service.ts'
import { botSettings, type Platform } from './bot-settings.ts'
import { discordInteractions } from './discord/discord-handler.ts'
import { LINK_CODE_TTL_MS, newLinkCode, type BotLinkCode } from './link-codes.ts'
import { slackCommands, slackInteractivity } from './slack/slack-handler.ts'
import { telegramWebhook } from './telegram/telegram-handler.ts'

/** Largest platform payload accepted (Slack's interactivity payloads carry the whole message). */
export const BOT_MAX_BODY_BYTES = 256 * 1024

function misconfigured(internal: string): ApiError {
  return new ApiError(500, { code: 'misconfigured', message: 'the service is misconfigured', internal })
}

function waitUntilOf(c: Context): (work: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx
    return (work) => ctx.waitUntil(work)
  } catch {
    return (work) => void work.catch(() => undefined)
  }
}

/**
 * The context of a platform's route, or null when the platform is off (its route is then a 404:
 * the settings are absent). Bad settings, or bots without `PUBLIC_BASE_URL`, are a 500 (logged)
 * for the bot routes only.
 */
function botContext(c: Context<EdgeEnv>, platform: Platform): BotContext | null {
  const result = botSettings(c.env)
  if (!result.ok) throw misconfigured(`bad bot settings: ${result.problems.join('; ')}`)
  const settings = result.settings
  if (!settings?.[platform]) return null
  const config = c.get('config')
  if (!config.PUBLIC_BASE_URL) throw misconfigured('the chat bots need PUBLIC_BASE_URL (the origin of the image URLs the platforms fetch)')
  if (!c.env.BOT_INSTALLS || !c.env.BOT_LINK_CODES) throw misconfigured('the chat bots need the BOT_INSTALLS and BOT_LINK_CODES Durable Object bindings')
  return { env: c.env, config, settings, jobs: engineJobs(c.env, config) }
}

function platformRoute(platform: Platform, handle: (request: Request, ctx: BotContext, waitUntil: (work: Promise<unknown>) => void) => Promise<Response>) {
  return async (c: Context<EdgeEnv>) => {
    const ctx = botContext(c, platform)
    if (!ctx) return notFoundHandler(c)
    return handle(c.req.raw, ctx, waitUntilOf(c))
  }
}

const limit = bodyLimit({
  maxSize: BOT_MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(413, { code: 'body_too_large', message: `the request body is larger than ${BOT_MAX_BODY_BYTES} bytes` })
  },
})

/**
 * The chat bots' webhooks (plain HTTP endpoints: no gateway process). A platform whose settings are
 * absent is off and its routes answer 404; the rest of the worker is unaffected.
 *
 * | platform | route |
 * | --- | --- |
 * | Discord | `POST /bots/discord/interactions` |
 * | Slack | `POST /bots/slack/commands`, `POST /bots/slack/interactivity` |
 * | Telegram | `POST /bots/telegram/webhook` |
 */
export const botRoutes = new Hono<EdgeEnv>()
  .post('/bots/discord/interactions', limit, platformRoute('discord', discordInteractions))
  .post('/bots/slack/commands', limit, platformRoute('slack', slackCommands))
  .post('/bots/slack/interactivity', limit, platformRoute('slack', slackInteractivity))
  .post('/bots/telegram/webhook', limit, platformRoute('telegram', telegramWebhook))

/** `POST /v1/bot-links`, as /openapi.json describes it (app.ts registers it). */
export const botLinkRoute = createRoute({
  method: 'post',
  path: '/v1/bot-links',
  summary: 'A one-time code that links a chat user (Discord, Slack, Telegram) to this API key: /link <code> in the chat',
  security: [{ bearerAuth: [] }],
  responses: {
    201: {
      description: 'The code, valid 10 minutes, redeemable once',
      content: {
        'application/json': {
          schema: z
            .object({
              object: z.literal('bot_link'),
              code: z.string().openapi({ example: 'K7Q2M-9XD4R' }),
              expires_at: z.number().int().openapi({ description: 'Unix seconds' }),
              key_id: z.string(),
            })
            .openapi('BotLink'),
        },
      },
    },
    401: { description: 'Missing, malformed, unknown or revoked API key', content: { 'application/json': { schema: errorSchema } } },
    403: { description: 'The key lacks images:generate', content: { 'application/json': { schema: errorSchema } } },
  },
})

/**
 * `POST /v1/bot-links` (API key with `images:generate`): a one-time code, valid 10 minutes, that
 * `/link <code>` on any platform redeems to bind that platform user to this key (whose quota and
 * limits then apply to their images). `201 {code, expires_at}` (Unix seconds). Not rate-limited:
 * a code costs one Durable Object write and generates nothing.
 */
export const botLinkRoutes = new Hono<EdgeEnv>().post('/v1/bot-links', apiKeyAuth(), requireScope('images:generate'), async (c) => {
  const namespace = c.env.BOT_LINK_CODES as DurableObjectNamespace<BotLinkCode> | undefined
  if (!namespace) throw misconfigured('BOT_LINK_CODES is not bound')
  const account = c.get('account')
  const expiresAt = Date.now() + LINK_CODE_TTL_MS
  for (let tries = 0; tries < 3; tries++) {
    const code = newLinkCode()
    if (await namespace.get(namespace.idFromName(code)).issue({ account: account.stub.id.toString(), keyId: account.keyId, expiresAt })) {
      return c.json({ object: 'bot_link', code, expires_at: Math.floor(expiresAt / 1000), key_id: account.keyId }, 201)
    }
  }
  throw new ApiError(500, { code: 'internal_error', message: 'internal error', internal: 'three link code collisions in a row' })
})
