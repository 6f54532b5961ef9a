/**
 * `npm run bots:demo`: one short conversation per platform against the local stack (`npm start`) with
 * the bots pointed at the FAKE platform servers (fake-platforms.ts), printed as a transcript: what the
 * platform sent the edge, what the edge answered, and what the edge then posted to the platform's API.
 * The README's transcripts come from this.
 */
import { resolve } from 'node:path'
import { discordImagine, slackImagine, startBotStack, telegramImagine, type BotStack } from './bot-stack.ts'
import type { FakeCall } from './fake-platforms.ts'

const root = resolve(import.meta.dirname, '../..')

function short(value: unknown, max = 400): string {
  const text = JSON.stringify(value)
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

function show(stack: BotStack, call: FakeCall): string {
  const path = call.path.replace(/\/bot\d+:[^/]+\//, '/bot<token>/').replace(stack.platforms.url, '')
  return `  → ${call.method} ${path}\n      ${short(call.body)}`
}

async function answer(response: Response): Promise<string> {
  const text = await response.text()
  return `  ← ${response.status} ${text === '' ? '(empty)' : text.length > 300 ? `${text.slice(0, 299)}…` : text}`
}

function imageUrlOf(body: unknown): string {
  return /"(https?:[^"]+\/v1\/images\/[0-9a-f]{32}\.png)"/.exec(JSON.stringify(body))?.[1] ?? ''
}

async function png(url: string): Promise<string> {
  const response = await fetch(url)
  const bytes = new Uint8Array(await response.arrayBuffer())
  return `  GET ${url.replace(/^https?:\/\/[^/]+/, '')} → ${response.status} ${response.headers.get('content-type')} (${bytes.length} bytes, PNG signature ${bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47 ? 'ok' : 'missing'})`
}

console.error('starting the local stack with the bots on…')
const stack = await startBotStack({ root })
const lines: string[] = []
const say = (line: string) => lines.push(line)
try {
  // Discord
  say('Discord (POST /bots/discord/interactions, signed with Ed25519)')
  const interaction = discordImagine('a red circle and a blue square', 'blue square', '80351110224678912')
  say(`  /imagine prompt:a red circle and a blue square negative:blue square`)
  say(await answer(await stack.clients.discord(interaction)))
  const edit = await stack.platforms.next((c) => c.method === 'PATCH' && c.path.includes(interaction.token))
  say(show(stack, edit).replace(interaction.token, '<token>'))
  say(await png(imageUrlOf(edit.body)))
  const job = /"r:(job_[0-9A-Za-z]+)"/.exec(JSON.stringify(edit.body))?.[1] ?? ''
  const click = { ...discordImagine('x', undefined, '80351110224678912'), type: 3, data: { custom_id: `r:${job}`, component_type: 2 } }
  say(`  [Re-roll] (custom_id r:${job})`)
  say(await answer(await stack.clients.discord(click)))
  const reroll = await stack.platforms.next((c) => c.method === 'PATCH' && c.path.includes(click.token))
  say(show(stack, reroll).replace(click.token, '<click token>'))
  say('')

  // Slack
  say('Slack (POST /bots/slack/commands, v0 HMAC)')
  const form = slackImagine(stack.platforms.url, 'a blue square and a red circle --no red circle --seed 7', 'U024BE7LH')
  say('  /imagine a blue square and a red circle --no red circle --seed 7')
  say(await answer(await stack.clients.slack('commands', form)))
  const posted = await stack.platforms.next((c) => c.path === new URL(form.response_url).pathname)
  say(show(stack, posted))
  say(await png(imageUrlOf(posted.body)))
  const quota = slackImagine(stack.platforms.url, '', 'U024BE7LH')
  say('  /quota')
  say(await answer(await stack.clients.slack('commands', { ...quota, command: '/quota' })))
  say('')

  // Telegram
  say('Telegram (POST /bots/telegram/webhook, X-Telegram-Bot-Api-Secret-Token)')
  const update = telegramImagine('a red circle on white --no blue', 5550001)
  say('  /imagine a red circle on white --no blue')
  say(await answer(await stack.clients.telegram(update)))
  const photo = await stack.platforms.next((c) => c.path.endsWith('/sendPhoto') && (c.body as { chat_id?: number }).chat_id === 5550001)
  say(show(stack, photo))
  say(await png(imageUrlOf(photo.body)))
} finally {
  await stack.stop()
}
console.log(lines.join('\n'))
