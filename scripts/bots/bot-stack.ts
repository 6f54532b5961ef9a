/**
 * The whole local stack (`npm start`: wrangler dev + the GPU service) with the three chat bots on,
 * pointed at the FAKE platforms of fake-platforms.ts, for the end-to-end test and `npm run bench:bots`.
 * It follows the operator's own steps: start, create the key the bots spend (the admin route), put it
 * in `.dev.vars` as BOT_API_KEY, start again on the same state. Also the clients that sign requests
 * the way each platform does (Ed25519, Slack v0 HMAC, Telegram's secret header).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { appendFileSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDevVars } from '../dev/dev-vars.ts'
import { fakePlatformSettings, startFakePlatforms, type FakePlatforms } from './fake-platforms.ts'

export const DISCORD_APPLICATION_ID = '100000000000000001'
export const TELEGRAM_TOKEN = '123456:FAKE-telegram-token'

export interface BotClients {
  discord(payload: unknown): Promise<Response>
  slack(path: 'commands' | 'interactivity', form: Record<string, string>): Promise<Response>
  telegram(update: unknown): Promise<Response>
}

export interface BotStack {
  edgeUrl: string
  platforms: FakePlatforms
  clients: BotClients
  vars: Record<string, string>
  /** What npm start printed (both runs). */
  output(): string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))))
    })
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((done) => child.once('exit', () => done()))
}

async function startOnce(root: string, args: string[], log: (text: string) => void, readyTimeoutMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(root, 'scripts/start.ts'), ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const take = (chunk: Buffer) => {
    output += chunk.toString()
    log(chunk.toString())
  }
  child.stdout.on('data', take)
  child.stderr.on('data', take)
  const deadline = Date.now() + readyTimeoutMs
  while (!output.includes('SNOOPI image API is running')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`)
    if (Date.now() > deadline) {
      child.kill('SIGTERM')
      throw new Error(`npm start was not ready within ${readyTimeoutMs} ms:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return child
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  await exited(child)
}

function signedClients(edgeUrl: string, keys: { discord: KeyObject; slackSecret: string; telegramSecret: string }): BotClients {
  return {
    discord(payload) {
      const body = JSON.stringify(payload)
      const timestamp = String(Math.floor(Date.now() / 1000))
      const signature = sign(null, Buffer.from(timestamp + body), keys.discord).toString('hex')
      return fetch(`${edgeUrl}/bots/discord/interactions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp }, body })
    },
    slack(path, form) {
      const body = new URLSearchParams(form).toString()
      const timestamp = String(Math.floor(Date.now() / 1000))
      const signature = `v0=${createHmac('sha256', keys.slackSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`
      return fetch(`${edgeUrl}/bots/slack/${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }, body })
    },
    telegram(update) {
      return fetch(`${edgeUrl}/bots/telegram/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': keys.telegramSecret }, body: JSON.stringify(update) })
    },
  }
}

/**
 * Starts the stack with the bots on. `extraVars` go into `.dev.vars` too (e.g. roomier limits for the
 * benchmark); `plan` is the plan of the key the bots spend.
 */
export async function startBotStack(options: { root: string; plan?: string; extraVars?: Record<string, string>; readyTimeoutMs?: number; log?: (text: string) => void }): Promise<BotStack> {
  const platforms = await startFakePlatforms()
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const discordPublicKey = (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(-32).toString('hex')
  const slackSecret = randomBytes(16).toString('hex')
  const telegramSecret = randomBytes(16).toString('hex')
  const scratch = mkdtempSync(join(tmpdir(), 'snoopi-bots-'))
  const devVarsPath = join(scratch, '.dev.vars')
  ensureDevVars(devVarsPath)
  const settings = { ...fakePlatformSettings(platforms.url, { discordPublicKey, slackSigningSecret: slackSecret, telegramToken: TELEGRAM_TOKEN, telegramSecret }), ...options.extraVars }
  appendFileSync(devVarsPath, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(''))

  const [edgePort, gpuPort, metricsPort] = [await freePort(), await freePort(), await freePort()]
  const edgeUrl = `http://127.0.0.1:${edgePort}`
  const args = ['--edge-port', String(edgePort), '--gpu-port', String(gpuPort), '--metrics-port', String(metricsPort), '--dev-vars', devVarsPath, '--persist-to', join(scratch, 'state')]
  let output = ''
  const log = (text: string) => {
    output += text
    options.log?.(text)
  }
  const timeout = options.readyTimeoutMs ?? 180_000

  // 1. Start, and create the key the bots spend (as an operator would, with the admin token).
  let child = await startOnce(options.root, args, log, timeout)
  let vars = ensureDevVars(devVarsPath).vars
  try {
    const created = await fetch(`${edgeUrl}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ owner: 'chat-bots', plan: options.plan ?? 'pro' }),
    })
    if (created.status !== 201) throw new Error(`POST /admin/keys: ${created.status} ${await created.text()}`)
    const { key } = (await created.json()) as { key: string }
    appendFileSync(devVarsPath, `BOT_API_KEY=${key}\n`)
  } finally {
    await stopChild(child)
  }
  // 2. Start again on the same state, now with BOT_API_KEY.
  child = await startOnce(options.root, args, log, timeout)
  vars = ensureDevVars(devVarsPath).vars
  return {
    edgeUrl,
    platforms,
    vars,
    clients: signedClients(edgeUrl, { discord: privateKey, slackSecret, telegramSecret }),
    output: () => output,
    async stop() {
      await stopChild(child)
      await platforms.close()
    },
  }
}

let sequence = 0

/** A Discord `/imagine` interaction (type 2) with a fresh id and token. */
export function discordImagine(prompt: string, negative: string | undefined, user = 'u1') {
  sequence++
  return {
    id: `${Date.now()}${sequence}`,
    application_id: DISCORD_APPLICATION_ID,
    type: 2,
    token: `itoken-${sequence}-${randomBytes(6).toString('hex')}`,
    guild_id: '7001',
    channel_id: '42',
    member: { user: { id: user, username: user } },
    data: { name: 'imagine', options: [{ name: 'prompt', type: 3, value: prompt }, ...(negative === undefined ? [] : [{ name: 'negative', type: 3, value: negative }])] },
  }
}

/** A Slack `/imagine` slash command form; its response_url is under the fake server's /hooks/. */
export function slackImagine(platformsUrl: string, text: string, user = 'U1') {
  sequence++
  return {
    team_id: 'T1',
    channel_id: 'C1',
    user_id: user,
    user_name: user,
    command: '/imagine',
    text,
    response_url: `${platformsUrl}/hooks/commands/T1/${sequence}/${randomBytes(6).toString('hex')}`,
    trigger_id: `${Date.now()}.${sequence}.${randomBytes(4).toString('hex')}`,
  }
}

/** A Telegram update carrying `/imagine …` in a private chat. */
export function telegramImagine(text: string, user = 4242) {
  sequence++
  return {
    update_id: Date.now() * 10 + sequence,
    message: { message_id: sequence, from: { id: user, is_bot: false, first_name: 'Ada' }, chat: { id: user, type: 'private' }, date: Math.floor(Date.now() / 1000), text: `/imagine ${text}` },
  }
}
