/**
 * `npm run bots:register -- --discord|--telegram|--slack`: sets the chat platforms up for this
 * deployment, talking to the configured API bases (DISCORD_API_BASE, TELEGRAM_API_BASE: the real
 * platforms by default, a fake server in tests).
 *
 * - `--discord`: installs the application commands (/imagine, /link, /unlink, /quota) with a bulk
 *   overwrite (global, or one guild's with `--guild`: instant), and with `--set-endpoint` points the
 *   application's interactions endpoint at `<public URL>/bots/discord/interactions` (Discord checks it with a PING);
 * - `--telegram`: `setWebhook` to `<public URL>/bots/telegram/webhook` with TELEGRAM_WEBHOOK_SECRET as its
 *   `secret_token`, the updates the bot reads, and `setMyCommands`; prints the bot's @name (`getMe`);
 * - `--slack`: prints bots/slack-manifest.yml with the request URLs filled in (paste it into "Create New
 *   App → From a manifest"; Slack has no API for that without an app configuration token).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DISCORD_COMMANDS } from '../../edge/src/bots/discord/discord-api.ts'
import { callPlatform } from '../../edge/src/bots/platform-http.ts'
import { TELEGRAM_ALLOWED_UPDATES, TELEGRAM_COMMANDS } from '../../edge/src/bots/telegram/telegram-api.ts'
import { parseDotenv } from '../dev/dev-vars.ts'

const root = join(import.meta.dirname, '..', '..')

export const USAGE = `Usage: npm run bots:register -- --discord|--telegram|--slack [options]

Registers the chat bots with their platforms (see README "Chat bots").

  --discord            install the Discord application commands (bulk overwrite)
      --guild <id>     …in one guild only (instant; global commands can take a while to appear)
      --set-endpoint   also set the application's interactions endpoint URL (Discord PINGs it)
  --telegram           set the Telegram webhook (with its secret token) and the bot's commands
  --slack              print the Slack app manifest with this deployment's URLs
  --public-url <url>   the edge's public origin (default: PUBLIC_BASE_URL)
  --env-file <file>    settings file read under the environment (default .dev.vars, if present)
  --dry-run            print the requests instead of sending them
  -h, --help           this help

Settings (environment or the env file): DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN, DISCORD_API_BASE,
TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_BASE, PUBLIC_BASE_URL.`

export interface RegisterIo {
  log: (line: string) => void
  error: (line: string) => void
}

type Settings = Record<string, string | undefined>

class UsageError extends Error {}

function required(settings: Settings, name: string, why: string): string {
  const value = settings[name]?.trim()
  if (!value) throw new UsageError(`${name} is not set (${why})`)
  return value
}

function publicUrl(values: { 'public-url'?: string | undefined }, settings: Settings): string {
  const text = values['public-url'] ?? settings.PUBLIC_BASE_URL
  if (!text) throw new UsageError('the public URL is not known: pass --public-url https://your.domain or set PUBLIC_BASE_URL')
  try {
    return new URL(text).origin
  } catch {
    throw new UsageError(`--public-url: not a URL: ${text}`)
  }
}

function base(settings: Settings, name: string, fallback: string): string {
  return (settings[name]?.trim() || fallback).replace(/\/+$/, '')
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => (secret.length >= 6 ? out.split(secret).join('***') : out), text)
}

interface Call {
  method: string
  url: string
  headers?: Record<string, string>
  body?: unknown
}

/** Sends (or, dry, prints) one call; a non-2xx answer (or Telegram's `ok: false`) is an error. */
async function send(call: Call, dry: boolean, io: RegisterIo, secrets: string[]): Promise<unknown> {
  const shown = redact(`${call.method} ${call.url}${call.body === undefined ? '' : ` ${JSON.stringify(call.body)}`}`, secrets)
  if (dry) {
    io.log(`[dry run] ${shown}`)
    return null
  }
  const answer = await callPlatform(call.url, { method: call.method, ...(call.headers ? { headers: call.headers } : {}), ...(call.body === undefined ? {} : { body: call.body }) })
  const ok = answer.status >= 200 && answer.status < 300 && (answer.json as { ok?: boolean } | null)?.ok !== false
  if (!ok) throw new Error(`${redact(`${call.method} ${call.url}`, secrets)} → ${answer.status} ${redact(answer.text.slice(0, 500), secrets)}`)
  return answer.json
}

async function registerDiscord(settings: Settings, values: { guild?: string | undefined; 'set-endpoint'?: boolean | undefined; 'public-url'?: string | undefined }, dry: boolean, io: RegisterIo) {
  const app = required(settings, 'DISCORD_APPLICATION_ID', 'the application id, from the Developer Portal')
  const token = required(settings, 'DISCORD_BOT_TOKEN', 'the bot token, from the Developer Portal → Bot')
  const api = base(settings, 'DISCORD_API_BASE', 'https://discord.com/api/v10')
  const headers = { authorization: `Bot ${token}` }
  const path = values.guild ? `/applications/${app}/guilds/${values.guild}/commands` : `/applications/${app}/commands`
  const installed = (await send({ method: 'PUT', url: `${api}${path}`, headers, body: DISCORD_COMMANDS }, dry, io, [token])) as { name: string }[] | null
  io.log(`Discord: ${values.guild ? `guild ${values.guild}` : 'global'} commands ${dry ? 'would be' : ''} installed: ${(installed ?? DISCORD_COMMANDS).map((c) => `/${c.name}`).join(', ')}`)
  if (values['set-endpoint']) {
    const endpoint = `${publicUrl(values, settings)}/bots/discord/interactions`
    await send({ method: 'PATCH', url: `${api}/applications/@me`, headers, body: { interactions_endpoint_url: endpoint } }, dry, io, [token])
    io.log(`Discord: interactions endpoint ${dry ? 'would be' : 'is'} ${endpoint}`)
  } else {
    io.log(`Discord: set the Interactions Endpoint URL to ${values['public-url'] || settings.PUBLIC_BASE_URL ? `${publicUrl(values, settings)}/bots/discord/interactions` : '<PUBLIC_BASE_URL>/bots/discord/interactions'} (Developer Portal → General Information), or rerun with --set-endpoint`)
  }
}

async function registerTelegram(settings: Settings, values: { 'public-url'?: string | undefined }, dry: boolean, io: RegisterIo) {
  const token = required(settings, 'TELEGRAM_BOT_TOKEN', 'from @BotFather')
  const secret = required(settings, 'TELEGRAM_WEBHOOK_SECRET', 'any 1–256 of A-Z a-z 0-9 _ -, e.g. `openssl rand -hex 32`; the worker needs the same value')
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw new UsageError('TELEGRAM_WEBHOOK_SECRET must be 1–256 characters of A-Z, a-z, 0-9, _ and -')
  const api = `${base(settings, 'TELEGRAM_API_BASE', 'https://api.telegram.org')}/bot${token}`
  const url = `${publicUrl(values, settings)}/bots/telegram/webhook`
  const me = (await send({ method: 'POST', url: `${api}/getMe`, body: {} }, dry, io, [token, secret])) as { result?: { username?: string } } | null
  await send({ method: 'POST', url: `${api}/setWebhook`, body: { url, secret_token: secret, allowed_updates: TELEGRAM_ALLOWED_UPDATES, drop_pending_updates: false } }, dry, io, [token, secret])
  await send({ method: 'POST', url: `${api}/setMyCommands`, body: { commands: TELEGRAM_COMMANDS } }, dry, io, [token, secret])
  io.log(`Telegram: ${me?.result?.username ? `@${me.result.username}` : 'the bot'} ${dry ? 'would deliver' : 'delivers'} updates to ${url} (secret token set; updates: ${TELEGRAM_ALLOWED_UPDATES.join(', ')})`)
}

function slackManifest(settings: Settings, values: { 'public-url'?: string | undefined }, io: RegisterIo) {
  const manifest = readFileSync(join(root, 'bots', 'slack-manifest.yml'), 'utf8')
  io.log(manifest.replaceAll('https://api.example.com', publicUrl(values, settings)))
}

/** The CLI, callable from tests: `argv` without node and the script; returns the exit code. */
export async function main(argv: string[], environment: Settings = process.env, io: RegisterIo = { log: console.log, error: console.error }): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        discord: { type: 'boolean' },
        telegram: { type: 'boolean' },
        slack: { type: 'boolean' },
        guild: { type: 'string' },
        'set-endpoint': { type: 'boolean' },
        'public-url': { type: 'string' },
        'env-file': { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values
  } catch (error) {
    io.error(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    io.log(USAGE)
    return 0
  }
  if (!values.discord && !values.telegram && !values.slack) {
    io.error(`Say which platform: --discord, --telegram or --slack.\n\n${USAGE}`)
    return 2
  }
  const envFile = resolve(values['env-file'] ?? join(root, '.dev.vars'))
  if (values['env-file'] && !existsSync(envFile)) {
    io.error(`--env-file: no such file: ${envFile}`)
    return 2
  }
  const settings: Settings = { ...(existsSync(envFile) ? parseDotenv(readFileSync(envFile, 'utf8')) : {}), ...environment }
  const dry = values['dry-run'] === true
  try {
    if (values.discord) await registerDiscord(settings, values, dry, io)
    if (values.telegram) await registerTelegram(settings, values, dry, io)
    if (values.slack) slackManifest(settings, values, io)
    return 0
  } catch (error) {
    io.error(error instanceof UsageError ? `${error.message}\n\nSee --help.` : `bots:register failed: ${(error as Error).message}`)
    return error instanceof UsageError ? 2 : 1
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(await main(process.argv.slice(2)))
