import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DISCORD_APPLICATION_ID, discordImagine, slackImagine, startBotStack, telegramImagine, type BotStack } from '../scripts/bots/bot-stack.ts'
import type { FakeCall } from '../scripts/bots/fake-platforms.ts'

/**
 * The chat bots end to end: `npm start` (wrangler dev + the GPU service running the built-in model)
 * with Discord, Slack and Telegram pointed at FAKE platform API servers (node http on 127.0.0.1: the
 * real platforms cannot be reached from here). One `/imagine … --no …` per platform, signed the way
 * the platform signs it, gets its first answer in < 3 s and then the image message, whose URL serves
 * the PNG the GPU service drew.
 */
const root = resolve(import.meta.dirname, '..')
let stack: BotStack

beforeAll(async () => {
  stack = await startBotStack({ root })
}, 400_000)

afterAll(async () => {
  // The edge's bot lines, for a failure's reader (deliveries retried or dead-lettered say why).
  const lines = stack?.output().split('\n').filter((line) => /bots:|error/i.test(line)) ?? []
  if (lines.length > 0) console.log(lines.slice(-40).join('\n'))
  await stack?.stop()
})

/** Deliveries take about a second; a lost queue message is sent again by the install's watchdog after 90 s. */
const DELIVERY_WAIT_MS = 150_000
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** The image URL serves a real PNG (the GPU service's), from the edge. */
async function expectPng(url: string): Promise<void> {
  expect(url.startsWith(`${stack.edgeUrl}/v1/images/`), url).toBe(true)
  expect(url).toMatch(/\.png$/)
  const image = await fetch(url)
  expect(image.status).toBe(200)
  expect(image.headers.get('content-type')).toBe('image/png')
  expect([...new Uint8Array(await image.arrayBuffer()).subarray(0, 8)]).toEqual(PNG_SIGNATURE)
}

async function timed(send: () => Promise<Response>): Promise<{ response: Response; ms: number }> {
  const started = performance.now()
  const response = await send()
  return { response, ms: performance.now() - started }
}

describe('chat bots against fake platform servers (npm start)', () => {
  it('Discord: /imagine prompt:… negative:… is deferred (type 5) in < 3 s, then @original gets an embed with the PNG URL and the two buttons', async () => {
    const interaction = discordImagine('a red circle and a blue square', 'blue square', 'discord-user-1')
    const { response, ms } = await timed(() => stack.clients.discord(interaction))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ type: 5 })
    expect(ms).toBeLessThan(3000)
    const edit = await stack.platforms.next((c: FakeCall) => c.method === 'PATCH' && c.path === `/discord/api/v10/webhooks/${DISCORD_APPLICATION_ID}/${interaction.token}/messages/@original`, DELIVERY_WAIT_MS)
    const body = edit.body as { embeds: { image: { url: string }; description: string }[]; components: { components: { label: string }[] }[] }
    expect(body.embeds[0]!.description).toContain('without: blue square')
    expect(body.components[0]!.components.map((b) => b.label)).toEqual(['Re-roll', 'Without…'])
    await expectPng(body.embeds[0]!.image.url)
  }, 200_000)

  it('Slack: /imagine … --no … is answered with an ephemeral "Generating…" in < 3 s, then response_url gets the image in the channel', async () => {
    const form = slackImagine(stack.platforms.url, 'a red circle and a blue square --no red circle', 'U1')
    const { response, ms } = await timed(() => stack.clients.slack('commands', form))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ response_type: 'ephemeral', text: 'Generating… “a red circle and a blue square”' })
    expect(ms).toBeLessThan(3000)
    const path = new URL(form.response_url).pathname
    const posted = await stack.platforms.next((c) => c.method === 'POST' && c.path === path, DELIVERY_WAIT_MS)
    const body = posted.body as { response_type: string; replace_original: boolean; blocks: { type: string; image_url?: string; elements?: { text: { text: string } }[] }[] }
    expect(body).toMatchObject({ response_type: 'in_channel', replace_original: true })
    expect(body.blocks.find((b) => b.type === 'actions')!.elements!.map((e) => e.text.text)).toEqual(['Re-roll', 'Without…'])
    await expectPng(body.blocks.find((b) => b.type === 'image')!.image_url!)
  }, 200_000)

  it('Telegram: /imagine … --no … is answered 200 with the chat action in < 3 s, then sendPhoto by URL replies to the command', async () => {
    const update = telegramImagine('a blue square and a red circle --no blue square', 777)
    const { response, ms } = await timed(() => stack.clients.telegram(update))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ method: 'sendChatAction', chat_id: 777, action: 'upload_photo' })
    expect(ms).toBeLessThan(3000)
    const photo = await stack.platforms.next((c) => c.path.endsWith('/sendPhoto') && (c.body as { chat_id?: number }).chat_id === 777, DELIVERY_WAIT_MS)
    const body = photo.body as { photo: string; caption: string; reply_parameters: { message_id: number }; reply_markup: { inline_keyboard: { text: string }[][] } }
    expect(body.reply_parameters.message_id).toBe(update.message.message_id)
    expect(body.caption).toContain('without: blue square')
    expect(body.reply_markup.inline_keyboard[0]!.map((b) => b.text)).toEqual(['Re-roll', 'Without…'])
    await expectPng(body.photo)
  }, 200_000)

  it('lists the bot jobs as ordinary jobs of the key they are charged to', async () => {
    const response = await fetch(`${stack.edgeUrl}/v1/jobs`, { headers: { authorization: `Bearer ${stack.vars.BOT_API_KEY}` } })
    expect(response.status).toBe(200)
    const { data } = (await response.json()) as { data: { status: string; request: Record<string, unknown> }[] }
    expect(data.map((j) => j.request)).toEqual(
      expect.arrayContaining([
        { prompt: 'a red circle and a blue square', negative_prompt: 'blue square' },
        { prompt: 'a red circle and a blue square', negative_prompt: 'red circle' },
        { prompt: 'a blue square and a red circle', negative_prompt: 'blue square' },
      ]),
    )
    expect(data.every((j) => j.status === 'succeeded')).toBe(true)
  })
})
