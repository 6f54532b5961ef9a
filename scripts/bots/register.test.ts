// `npm run bots:register` against FAKE Discord and Telegram APIs: node http servers on 127.0.0.1 standing in
// for the platforms (which cannot run here), reached through DISCORD_API_BASE / TELEGRAM_API_BASE.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main, USAGE } from './register.ts'

interface Seen {
  method: string
  path: string
  authorization?: string
  body: unknown
}

let server: Server
let base = ''
const seen: Seen[] = []
let failNext = false

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text ? (JSON.parse(text) as unknown) : null
}

beforeAll(async () => {
  server = createServer((request, response) => {
    void readBody(request).then((body) => {
      seen.push({ method: request.method ?? '', path: request.url ?? '', ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}), body })
      response.setHeader('content-type', 'application/json')
      if (failNext) {
        failNext = false
        response.statusCode = 401
        response.end(JSON.stringify({ ok: false, error_code: 401, description: 'Unauthorized' }))
        return
      }
      if (request.url?.endsWith('/getMe')) response.end(JSON.stringify({ ok: true, result: { id: 77, is_bot: true, username: 'FakeSnoopiBot' } }))
      else if (request.url?.includes('/applications/')) response.end(JSON.stringify(request.method === 'PUT' ? body : { id: '1' }))
      else response.end(JSON.stringify({ ok: true, result: true }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.close()
})

function io() {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { log: (l: string) => out.push(l), error: (l: string) => err.push(l) } }
}

const noFile = { ...process.env, PUBLIC_BASE_URL: undefined }

describe('npm run bots:register', () => {
  it('prints its help, and refuses no platform or an unknown option', async () => {
    const a = io()
    expect(await main(['--help'], {}, a.io)).toBe(0)
    expect(a.out[0]).toBe(USAGE)
    const b = io()
    expect(await main(['--env-file', '/dev/null'], {}, b.io)).toBe(2)
    expect(b.err[0]).toContain('Say which platform')
    const c = io()
    expect(await main(['--discrod'], {}, c.io)).toBe(2)
  })

  it('--discord installs the four commands with the bot token (globally, or in one guild) and can set the interactions endpoint', async () => {
    seen.length = 0
    const env = { ...noFile, DISCORD_APPLICATION_ID: '123', DISCORD_BOT_TOKEN: 'bot-token-abc', DISCORD_API_BASE: `${base}/api/v10` }
    const run = io()
    expect(await main(['--discord', '--env-file', '/dev/null', '--set-endpoint', '--public-url', 'https://bots.example/ignored/path'], env, run.io)).toBe(0)
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(['PUT /api/v10/applications/123/commands', 'PATCH /api/v10/applications/@me'])
    expect(seen[0]!.authorization).toBe('Bot bot-token-abc')
    const commands = seen[0]!.body as { name: string; options?: { name: string; type: number; required: boolean }[] }[]
    expect(commands.map((c) => c.name)).toEqual(['imagine', 'link', 'unlink', 'quota'])
    expect(commands[0]!.options!.map((o) => [o.name, o.type, o.required])).toEqual([
      ['prompt', 3, true],
      ['negative', 3, false],
      ['seed', 4, false],
    ])
    expect(seen[1]!.body).toEqual({ interactions_endpoint_url: 'https://bots.example/bots/discord/interactions' })
    expect(run.out.join('\n')).toContain('/imagine, /link, /unlink, /quota')

    seen.length = 0
    expect(await main(['--discord', '--guild', '42', '--env-file', '/dev/null'], env, io().io)).toBe(0)
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(['PUT /api/v10/applications/123/guilds/42/commands'])
  })

  it('--telegram sets the webhook with its secret token and the commands, naming the bot from getMe', async () => {
    seen.length = 0
    const env = { ...noFile, TELEGRAM_BOT_TOKEN: '77:fake-token-xyz', TELEGRAM_WEBHOOK_SECRET: 'webhook-secret-1', TELEGRAM_API_BASE: base, PUBLIC_BASE_URL: 'https://bots.example' }
    const run = io()
    expect(await main(['--telegram', '--env-file', '/dev/null'], env, run.io)).toBe(0)
    expect(seen.map((s) => s.path)).toEqual(['/bot77:fake-token-xyz/getMe', '/bot77:fake-token-xyz/setWebhook', '/bot77:fake-token-xyz/setMyCommands'])
    expect(seen[1]!.body).toEqual({ url: 'https://bots.example/bots/telegram/webhook', secret_token: 'webhook-secret-1', allowed_updates: ['message', 'callback_query'], drop_pending_updates: false })
    expect((seen[2]!.body as { commands: { command: string }[] }).commands.map((c) => c.command)).toEqual(['imagine', 'link', 'unlink', 'quota'])
    expect(run.out.join('\n')).toContain('@FakeSnoopiBot delivers updates to https://bots.example/bots/telegram/webhook')
  })

  it('reports a platform refusal (exit 1) without printing the token, and missing settings (exit 2)', async () => {
    failNext = true
    const refused = io()
    const env = { ...noFile, TELEGRAM_BOT_TOKEN: '77:fake-token-xyz', TELEGRAM_WEBHOOK_SECRET: 'webhook-secret-1', TELEGRAM_API_BASE: base, PUBLIC_BASE_URL: 'https://bots.example' }
    expect(await main(['--telegram', '--env-file', '/dev/null'], env, refused.io)).toBe(1)
    expect(refused.err[0]).toContain('401')
    expect(refused.err[0]).not.toContain('fake-token-xyz')
    const missing = io()
    expect(await main(['--telegram', '--env-file', '/dev/null'], { ...noFile, TELEGRAM_BOT_TOKEN: '1:a' }, missing.io)).toBe(2)
    expect(missing.err[0]).toContain('TELEGRAM_WEBHOOK_SECRET is not set')
  })

  it('--slack prints the manifest with this deployment\'s request URLs', async () => {
    const run = io()
    expect(await main(['--slack', '--env-file', '/dev/null', '--public-url', 'https://bots.example'], noFile, run.io)).toBe(0)
    const manifest = run.out.join('\n')
    expect(manifest).not.toContain('api.example.com')
    expect(manifest.match(/url: https:\/\/bots\.example\/bots\/slack\/commands/g)).toHaveLength(4)
    expect(manifest).toContain('request_url: https://bots.example/bots/slack/interactivity')
  })
})
