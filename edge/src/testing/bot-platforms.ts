// Test support for the chat bots (imported by *.test.ts only). Discord, Slack and Telegram cannot run
// inside workerd, so their APIs are MOCKED here: the worker's outbound fetch to the fake hosts of
// vitest.config.ts (discord.test, slack.test, hooks.slack.test, telegram.test) is intercepted and
// answered by scripted behaviours; the GPU tier is the usual stand-in (its real signature check).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { toHex } from '@snoopi/gpu-service/contract/hex'
import { afterAll, afterEach, beforeAll, vi } from 'vitest'
import { gpuBreaker } from '../upstream/gpu-client.ts'
import { accountStub } from '../accounts/account-stub.ts'
import type { PlanName } from '../accounts/plans.ts'
import { createApp } from '../app.ts'
import { slackSignature } from '../bots/slack/verify-slack.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import { keyHash } from '../keys/api-key.ts'
import { isSignedByEdge, pngAnswer, standInModels } from './gpu-stand-in.ts'

/** The settings of vitest.config.ts. */
export const BOT_API_KEY = 'snp_live_BotOperatorTestKey00000000000001c8DJ9V'
export const DISCORD_APPLICATION_ID = '100000000000000001'
export const SLACK_SIGNING_SECRET = 'test-slack-signing-secret'
export const TELEGRAM_WEBHOOK_SECRET = 'test-telegram-webhook-secret'
export const TELEGRAM_BOT_ID = '123456'
export const TELEGRAM_TOKEN = '123456:TEST-telegram-bot-token'
export const PUBLIC_BASE_URL = 'https://bots.test'

/** The private half of vitest.config.ts's DISCORD_PUBLIC_KEY (PKCS#8 of a fixed 32-byte seed). */
const DISCORD_TEST_SEED = 'b8e2e94189830ad9067abc9841aaeb19dc88c68eb7450f2784b382bc691da9d1'
const PKCS8_ED25519_PREFIX = '302e020100300506032b657004220420'

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16))
}

let discordKey: Promise<CryptoKey> | undefined
function discordPrivateKey(): Promise<CryptoKey> {
  discordKey ??= crypto.subtle.importKey('pkcs8', hexBytes(PKCS8_ED25519_PREFIX + DISCORD_TEST_SEED), { name: 'Ed25519' }, false, ['sign'])
  return discordKey
}

export function nowSeconds(): string {
  return String(Math.floor(Date.now() / 1000))
}

/** Discord's two signature headers for `body`, signed with `key` (default: the configured application's). */
export async function discordHeaders(body: string, options: { timestamp?: string; key?: CryptoKey } = {}): Promise<Record<string, string>> {
  const timestamp = options.timestamp ?? nowSeconds()
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, options.key ?? (await discordPrivateKey()), new TextEncoder().encode(timestamp + body))
  return { 'content-type': 'application/json', 'x-signature-ed25519': toHex(signature), 'x-signature-timestamp': timestamp }
}

export async function slackHeaders(body: string, timestamp = nowSeconds()): Promise<Record<string, string>> {
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': await slackSignature(SLACK_SIGNING_SECRET, timestamp, body) }
}

export function telegramHeaders(secret = TELEGRAM_WEBHOOK_SECRET): Record<string, string> {
  return { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }
}

/** The test bindings with PUBLIC_BASE_URL set (bots need it), plus `overrides`. */
export function botEnv(overrides: Partial<EdgeBindings> = {}): EdgeBindings {
  return { ...env, PUBLIC_BASE_URL, ...overrides }
}

/** One request through the whole app (with an execution context whose waitUntil work is awaited). */
export async function botFetch(path: string, init: RequestInit, bindings: EdgeBindings = botEnv()): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await createApp().fetch(new Request(`${PUBLIC_BASE_URL}${path}`, init), bindings, ctx)
  await waitOnExecutionContext(ctx)
  return response
}

/** Gives BOT_API_KEY a key account (once per test file's storage) on `plan`. */
/**
 * The hooks every bot test file needs: the operator's key exists before the first test, each test's
 * mocks and the GPU breaker are reset after it, and background deliveries (the queue's consumer) get a
 * moment to settle before the file ends.
 */
export function useBotTestHooks(): void {
  beforeAll(async () => {
    await ensureOperatorKey()
  })
  afterEach(() => {
    vi.restoreAllMocks()
    gpuBreaker.succeeded()
  })
  afterAll(() => new Promise((resolve) => setTimeout(resolve, 2000)))
}

export async function ensureOperatorKey(plan: PlanName = 'pro'): Promise<void> {
  const stub = accountStub(env, await keyHash(BOT_API_KEY))
  if (await stub.authenticate()) return
  await stub.create({ id: 'key_BotOperator01', owner: 'bot-operator', plan, scopes: ['images:generate', 'usage:read'], createdAt: Math.floor(Date.now() / 1000) })
}

/** One call the mocked platforms received. */
export interface PlatformCall {
  host: string
  method: string
  path: string
  headers: Record<string, string>
  body: unknown
  at: number
}

/** A scripted answer of a mocked platform (default: success in that platform's shape). */
export type PlatformBehaviour = (call: PlatformCall) => Response | Promise<Response> | undefined

const DEFAULTS: Record<string, (call: PlatformCall) => Response> = {
  'discord.test': (call) => Response.json({ id: '900000000000000001', channel_id: '42', content: (call.body as { content?: string } | null)?.content ?? '' }),
  'slack.test': () => Response.json({ ok: true, ts: '1700000000.000100' }),
  'hooks.slack.test': () => new Response('ok'),
  'telegram.test': (call) =>
    call.path.endsWith('/getMe')
      ? Response.json({ ok: true, result: { id: 123456, is_bot: true, username: 'SnoopiTestBot' } })
      : Response.json({ ok: true, result: { message_id: 7000 + Math.floor(Math.random() * 1000), chat: { id: 1 } } }),
}

/**
 * MOCK platform APIs (and the GPU stand-in) for the rest of the test (undo: `vi.restoreAllMocks()`).
 * `behave` may answer a call (return a Response) or leave it to the platform's default success.
 * `gpu`: the GPU stand-in's answer (default: fake PNGs).
 */
export function fakePlatforms(options: { behave?: PlatformBehaviour; gpu?: (body: Record<string, unknown>) => Response | Promise<Response> } = {}) {
  const calls: PlatformCall[] = []
  const gpu = { calls: 0 }
  const realFetch = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    if (url.host === 'gpu.test') {
      if (!(await isSignedByEdge(request))) return new Response('bad signature', { status: 401 })
      gpu.calls++
      if (request.method === 'GET') return Response.json(standInModels)
      const body = await request.json<Record<string, unknown>>()
      return (options.gpu ?? pngAnswer)(body)
    }
    const fallback = DEFAULTS[url.host]
    if (!fallback) return realFetch(input, init)
    const text = await request.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    const call: PlatformCall = { host: url.host, method: request.method, path: url.pathname, headers: Object.fromEntries(request.headers), body, at: Date.now() }
    calls.push(call)
    return (await options.behave?.(call)) ?? fallback(call)
  })
  return {
    calls,
    gpu,
    /** Calls whose path ends with `suffix`. */
    to: (host: string, suffix = '') => calls.filter((c) => c.host === host && c.path.endsWith(suffix)),
    /** Waits until `predicate` holds over the calls (the delivery queue runs in the background). */
    async until(predicate: (calls: PlatformCall[]) => boolean, timeoutMs = 15_000): Promise<PlatformCall[]> {
      const deadline = Date.now() + timeoutMs
      while (!predicate(calls)) {
        if (Date.now() > deadline) throw new Error(`fake platforms: condition not met in ${timeoutMs} ms; calls: ${JSON.stringify(calls.map((c) => `${c.method} ${c.host}${c.path}`))}`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      return calls
    },
  }
}

/** A Discord interaction payload (`type` 2: a slash command) from `user`. */
export function discordCommand(name: string, options: Record<string, string | number>, extra: { id?: string; user?: string; token?: string } = {}) {
  return {
    id: extra.id ?? `${Date.now()}${Math.floor(Math.random() * 1e6)}`,
    application_id: DISCORD_APPLICATION_ID,
    type: 2,
    token: extra.token ?? `itoken-${crypto.randomUUID()}`,
    guild_id: '7001',
    channel_id: '42',
    member: { user: { id: extra.user ?? `u${crypto.randomUUID().slice(0, 8)}`, username: 'tester' } },
    data: { name, options: Object.entries(options).map(([n, value]) => ({ name: n, type: typeof value === 'number' ? 4 : 3, value })) },
  }
}

/** A signed interaction through the whole app. */
export async function sendDiscord(payload: unknown, bindings?: EdgeBindings): Promise<Response> {
  const body = JSON.stringify(payload)
  return botFetch('/bots/discord/interactions', { method: 'POST', headers: await discordHeaders(body), body }, bindings)
}

/** A signed Slack form post (a slash command, or `payload=<JSON>` for interactivity). */
export async function sendSlack(path: '/bots/slack/commands' | '/bots/slack/interactivity', form: Record<string, string>, bindings?: EdgeBindings): Promise<Response> {
  const body = new URLSearchParams(form).toString()
  return botFetch(path, { method: 'POST', headers: await slackHeaders(body), body }, bindings)
}

/** An update to the Telegram webhook with the right secret header. */
export function sendTelegram(update: unknown, bindings?: EdgeBindings): Promise<Response> {
  return botFetch('/bots/telegram/webhook', { method: 'POST', headers: telegramHeaders(), body: JSON.stringify(update) }, bindings)
}

export interface ListedJob {
  id: string
  status: string
  request: Record<string, unknown>
  data?: { url?: string; seed: string }[]
}

/** The jobs of `key` (default: BOT_API_KEY) whose prompt is `prompt`, newest first (GET /v1/jobs). */
export async function jobsFor(prompt: string, key = BOT_API_KEY): Promise<ListedJob[]> {
  const response = await botFetch('/v1/jobs?limit=100', { headers: { authorization: `Bearer ${key}` } })
  if (response.status !== 200) throw new Error(`GET /v1/jobs: ${response.status} ${await response.text()}`)
  return (await response.json<{ data: ListedJob[] }>()).data.filter((job) => job.request.prompt === prompt)
}

/** The PNG an image URL (under PUBLIC_BASE_URL) serves. */
export async function imageAt(url: string): Promise<Response> {
  if (!url.startsWith(`${PUBLIC_BASE_URL}/`)) throw new Error(`not under PUBLIC_BASE_URL: ${url}`)
  return botFetch(url.slice(PUBLIC_BASE_URL.length), {})
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `jobsFor`, once at least `count` jobs exist (a bot job is created after the answer, by the queue's consumer). */
export async function jobsSoon(prompt: string, count = 1, key = BOT_API_KEY, timeoutMs = 15_000): Promise<ListedJob[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const jobs = await jobsFor(prompt, key)
    if (jobs.length >= count) return jobs
    if (Date.now() > deadline) throw new Error(`fewer than ${count} jobs for "${prompt}" after ${timeoutMs} ms (${jobs.length})`)
    await sleep(50)
  }
}
