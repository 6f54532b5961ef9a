/**
 * FAKE Discord, Slack and Telegram APIs in one node http server on 127.0.0.1, for the end-to-end test
 * and `npm run bench:bots` (the real platforms cannot be reached from here). Point the edge at it with
 * `fakePlatformSettings(url)`. It answers every call the bots make with the platform's success shape
 * and records each call (with the time it arrived) so a test can wait for the image message.
 *
 * | prefix | stands in for |
 * | --- | --- |
 * | `/discord/api/v10` | Discord's REST API (`DISCORD_API_BASE`) |
 * | `/slack/api` | Slack's Web API (`SLACK_API_BASE`) |
 * | `/hooks/` | Slack's `response_url`s (`SLACK_RESPONSE_URL_PREFIX`) |
 * | `/telegram` | the Telegram Bot API (`TELEGRAM_API_BASE`) |
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeCall {
  method: string
  path: string
  headers: Record<string, string | string[] | undefined>
  body: unknown
  /** `performance.now()` when the call arrived. */
  at: number
}

export interface FakePlatforms {
  url: string
  calls: FakeCall[]
  /** Resolves with the first call (already made or still to come) that `match` accepts. */
  next(match: (call: FakeCall) => boolean, timeoutMs?: number): Promise<FakeCall>
  close(): Promise<void>
}

async function bodyOf(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return text ? (JSON.parse(text) as unknown) : null
  } catch {
    return text
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}

let messageIds = 1000

function answer(call: FakeCall, response: ServerResponse): void {
  const { path } = call
  if (path.startsWith('/discord/')) return json(response, 200, { id: String(900_000 + messageIds++), content: (call.body as { content?: string } | null)?.content ?? '' })
  if (path.startsWith('/slack/')) return json(response, 200, { ok: true, ts: `${Date.now() / 1000}` })
  if (path.startsWith('/hooks/')) {
    response.writeHead(200, { 'content-type': 'text/plain' })
    response.end('ok')
    return
  }
  if (path.startsWith('/telegram/')) {
    if (path.endsWith('/getMe')) return json(response, 200, { ok: true, result: { id: 123456, is_bot: true, username: 'SnoopiFakeBot' } })
    return json(response, 200, { ok: true, result: { message_id: messageIds++, chat: { id: (call.body as { chat_id?: unknown } | null)?.chat_id ?? 0 } } })
  }
  json(response, 404, { error: `the fake platforms do not know ${path}` })
}

/** Starts the fake platforms on a free port of 127.0.0.1. */
export async function startFakePlatforms(): Promise<FakePlatforms> {
  const calls: FakeCall[] = []
  const waiters = new Set<{ match: (call: FakeCall) => boolean; resolve: (call: FakeCall) => void }>()
  const server = createServer((request, response) => {
    void bodyOf(request).then((body) => {
      const call: FakeCall = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body, at: performance.now() }
      calls.push(call)
      for (const waiter of [...waiters]) {
        if (waiter.match(call)) {
          waiters.delete(waiter)
          waiter.resolve(call)
        }
      }
      answer(call, response)
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    calls,
    next(match, timeoutMs = 60_000) {
      const done = calls.find(match)
      if (done) return Promise.resolve(done)
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (call: FakeCall) => {
            clearTimeout(timer)
            resolve(call)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`fake platforms: no matching call within ${timeoutMs} ms (${calls.length} calls so far)`))
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The bot settings (for `.dev.vars`) that point every platform at the fake server, except BOT_API_KEY. */
export function fakePlatformSettings(url: string, secrets: { discordPublicKey: string; slackSigningSecret: string; telegramToken: string; telegramSecret: string }): Record<string, string> {
  return {
    DISCORD_PUBLIC_KEY: secrets.discordPublicKey,
    DISCORD_APPLICATION_ID: '100000000000000001',
    DISCORD_BOT_TOKEN: 'fake-discord-bot-token',
    DISCORD_API_BASE: `${url}/discord/api/v10`,
    SLACK_SIGNING_SECRET: secrets.slackSigningSecret,
    SLACK_BOT_TOKEN: 'xoxb-fake',
    SLACK_API_BASE: `${url}/slack/api`,
    SLACK_RESPONSE_URL_PREFIX: `${url}/hooks/`,
    TELEGRAM_BOT_TOKEN: secrets.telegramToken,
    TELEGRAM_WEBHOOK_SECRET: secrets.telegramSecret,
    TELEGRAM_API_BASE: `${url}/telegram`,
  }
}
