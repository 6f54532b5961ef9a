/**
 * `npm run bench:bots`: N concurrent signed interactions per platform (default 100) against the whole
 * local stack (`npm start`: wrangler dev + the GPU service) with the bots pointed at FAKE platform API
 * servers (scripts/bots/fake-platforms.ts). Measures, per interaction, the time to the platform's first
 * answer (the HTTP answer to the webhook: Discord's deferred type 5, Slack's ephemeral "Generating…",
 * Telegram's 200) and the time to delivery (until the fake platform receives the image message).
 * Every prompt is different, so every interaction is a generation on the GPU service (no cache hits).
 */
import { appendFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DISCORD_APPLICATION_ID, discordImagine, slackImagine, startBotStack, telegramImagine, type BotStack } from '../bots/bot-stack.ts'
import type { FakeCall } from '../bots/fake-platforms.ts'

const { values } = parseArgs({
  options: {
    interactions: { type: 'string', default: '100' },
    platform: { type: 'string', default: 'all' },
    json: { type: 'string' },
    log: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(`Usage: npm run bench:bots [-- --interactions N --platform all|discord|slack|telegram --json FILE --log FILE]

N concurrent signed interactions per platform (default 100), each a different /imagine … --no …;
prints p50/p99 of the time to the platform's first answer (goal: p99 < 500 ms locally) and of the
time to delivery (the image message at the fake platform server). --json also writes the figures;
--log writes what the stack printed.`)
  process.exit(0)
}
const count = Number(values.interactions)
const platforms = values.platform === 'all' ? (['discord', 'slack', 'telegram'] as const) : [values.platform as 'discord' | 'slack' | 'telegram']
if (!Number.isInteger(count) || count < 1 || platforms.some((p) => !['discord', 'slack', 'telegram'].includes(p))) {
  console.error('--interactions must be a positive integer and --platform one of all, discord, slack, telegram')
  process.exit(2)
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

interface One {
  send: () => Promise<Response>
  delivered: (call: FakeCall) => boolean
}

function interaction(stack: BotStack, platform: (typeof platforms)[number], i: number, run: string): One {
  const prompt = `a red circle and a blue square ${run} ${platform} ${i}`
  if (platform === 'discord') {
    const payload = discordImagine(prompt, 'blue square', `bench-user-${i}`)
    const path = `/discord/api/v10/webhooks/${DISCORD_APPLICATION_ID}/${payload.token}/messages/@original`
    return { send: () => stack.clients.discord(payload), delivered: (c) => c.method === 'PATCH' && c.path === path }
  }
  if (platform === 'slack') {
    const form = slackImagine(stack.platforms.url, `${prompt} --no blue square`, `UBENCH${i}`)
    const path = new URL(form.response_url).pathname
    return { send: () => stack.clients.slack('commands', form), delivered: (c) => c.path === path }
  }
  const chat = 900_000 + i
  const update = telegramImagine(`${prompt} --no blue square`, chat)
  return { send: () => stack.clients.telegram(update), delivered: (c) => c.path.endsWith('/sendPhoto') && (c.body as { chat_id?: number }).chat_id === chat }
}

const root = resolve(import.meta.dirname, '../..')
console.error('starting the local stack with the bots on (twice: the second start has BOT_API_KEY)…')
const logFile = values.log
if (logFile) writeFileSync(logFile, '')
const stack = await startBotStack({
  root,
  plan: 'enterprise',
  extraVars: { BOT_INSTALL_CONCURRENCY: '1000', BOT_USER_RATE: '600/min, burst 100' },
  ...(logFile ? { log: (text: string) => appendFileSync(logFile, text) } : {}),
})
const report: Record<string, { answer: { p50: number; p99: number; max: number }; delivery: { p50: number; p99: number; max: number }; answered: number; delivered: number; statuses: Record<string, number> }> = {}
const baseline = { p50: Number.NaN, p99: Number.NaN, max: Number.NaN }
try {
  // Warm-up: one of each, so isolates, Durable Objects and the model are hot.
  for (const platform of platforms) {
    const warm = interaction(stack, platform, -1, 'warm')
    await warm.send()
    await stack.platforms.next(warm.delivered, 120_000)
  }
  // The floor: the same number of concurrent requests to a route that does nothing (GET /healthz).
  const floor = await Promise.all(
    Array.from({ length: count }, async () => {
      const t0 = performance.now()
      await (await fetch(`${stack.edgeUrl}/healthz`)).arrayBuffer()
      return performance.now() - t0
    }),
  )
  floor.sort((a, b) => a - b)
  Object.assign(baseline, { p50: percentile(floor, 50), p99: percentile(floor, 99), max: floor.at(-1) ?? Number.NaN })
  const run = `${Date.now()}`
  for (const platform of platforms) {
    const batch = Array.from({ length: count }, (_, i) => interaction(stack, platform, i, run))
    const statuses: Record<string, number> = {}
    const started = performance.now()
    const results = await Promise.all(
      batch.map(async (one) => {
        const t0 = performance.now()
        const response = await one.send()
        const answered = performance.now() - t0
        statuses[response.status] = (statuses[response.status] ?? 0) + 1
        await response.arrayBuffer()
        const call = await stack.platforms.next(one.delivered, 300_000).catch(() => null)
        return { answered, delivered: call ? call.at - t0 : null }
      }),
    )
    const answers = results.map((r) => r.answered).sort((a, b) => a - b)
    const deliveries = results.flatMap((r) => (r.delivered === null ? [] : [r.delivered])).sort((a, b) => a - b)
    report[platform] = {
      answer: { p50: percentile(answers, 50), p99: percentile(answers, 99), max: answers.at(-1) ?? Number.NaN },
      delivery: { p50: percentile(deliveries, 50), p99: percentile(deliveries, 99), max: deliveries.at(-1) ?? Number.NaN },
      answered: answers.length,
      delivered: deliveries.length,
      statuses,
    }
    console.error(`${platform}: ${count} interactions in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
} finally {
  await stack.stop()
}

const ms = (n: number) => (Number.isNaN(n) ? '–' : `${n.toFixed(0)} ms`)
console.log(`\n${count} concurrent signed interactions per platform (wrangler dev + GPU service, fake platform servers)\n`)
console.log('| platform | first answer p50 | p99 | max | delivery p50 | p99 | max | delivered | HTTP statuses |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
console.log(`| (floor: GET /healthz) | ${ms(baseline.p50)} | ${ms(baseline.p99)} | ${ms(baseline.max)} | | | | | |`)
for (const [platform, r] of Object.entries(report)) {
  console.log(`| ${platform} | ${ms(r.answer.p50)} | ${ms(r.answer.p99)} | ${ms(r.answer.max)} | ${ms(r.delivery.p50)} | ${ms(r.delivery.p99)} | ${ms(r.delivery.max)} | ${r.delivered}/${count} | ${JSON.stringify(r.statuses)} |`)
}
if (values.json) writeFileSync(values.json, JSON.stringify({ interactions: count, floor: baseline, report }, null, 2))
