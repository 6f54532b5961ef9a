// The Telegram bot through the whole worker: the secret header, the real Durable Objects and queues.
// Telegram itself is a MOCK (edge/src/testing/bot-platforms.ts intercepts the worker's fetch to
// telegram.test); so is the GPU tier.
import { describe, expect, it } from 'vitest'
import { botEnv, botFetch, fakePlatforms, imageAt, jobsFor, jobsSoon, sendTelegram, sleep, TELEGRAM_BOT_ID, telegramHeaders, type PlatformCall, useBotTestHooks } from '../../testing/bot-platforms.ts'
import { botApiCall } from './telegram-api.ts'

useBotTestHooks()

const unique = () => `a green triangle ${crypto.randomUUID().slice(0, 8)}`
let nextUpdate = Math.floor(Math.random() * 1e6) * 1000
const sendPhoto = (c: PlatformCall) => c.path.endsWith('/sendPhoto')
/** sendPhoto calls of `prompt`'s jobs (deliveries of earlier tests may still arrive). */
const photosOf = (prompt: string) => (c: PlatformCall) => sendPhoto(c) && (c.body as { caption?: string }).caption?.includes(prompt) === true

function message(text: string, options: { user?: number; chat?: number; type?: string; reply?: { message_id: number; from: { id: number; is_bot: boolean } } } = {}) {
  const user = options.user ?? 1000 + Math.floor(Math.random() * 1e6)
  return {
    update_id: nextUpdate++,
    message: {
      message_id: 500 + Math.floor(Math.random() * 1e5),
      from: { id: user, is_bot: false, first_name: 'Ada', username: 'ada' },
      chat: { id: options.chat ?? user, type: options.type ?? 'private' },
      date: Math.floor(Date.now() / 1000),
      text,
      ...(options.reply ? { reply_to_message: { ...options.reply, chat: { id: options.chat ?? user }, date: 0 } } : {}),
    },
  }
}

type Photo = { chat_id: number; photo: string; caption: string; reply_parameters: { message_id: number }; reply_markup: { inline_keyboard: { text: string; callback_data: string }[][] } }

describe('POST /bots/telegram/webhook', () => {
  it('answers 404 while Telegram is off (token or secret absent) and 401 for a missing or wrong secret header', async () => {
    fakePlatforms()
    const update = message('/imagine x')
    expect((await sendTelegram(update, botEnv({ TELEGRAM_WEBHOOK_SECRET: undefined }))).status).toBe(404)
    expect((await sendTelegram(update, botEnv({ TELEGRAM_BOT_TOKEN: undefined }))).status).toBe(404)
    const post = (headers: Record<string, string>) => botFetch('/bots/telegram/webhook', { method: 'POST', headers, body: JSON.stringify(update) })
    expect((await post({ 'content-type': 'application/json' })).status).toBe(401)
    expect((await post(telegramHeaders('wrong-secret'))).status).toBe(401)
    expect((await post(telegramHeaders('test-telegram-webhook-secret-'))).status).toBe(401)
    expect(await jobsFor('x')).toEqual([])
  })

  it('answers /imagine … --no … with 200 and the "sending photo" action, then sends the PNG by URL replying to the command, caption ≤ 1024, two buttons', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const update = message(`/imagine ${prompt} --no purple dots`)
    const started = Date.now()
    const response = await sendTelegram(update)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ method: 'sendChatAction', chat_id: update.message.chat.id, action: 'upload_photo' })
    const [job] = await jobsSoon(prompt)
    expect(job?.request).toEqual({ prompt, negative_prompt: 'purple dots' })

    await platforms.until((calls) => calls.some(photosOf(prompt)))
    const photo = platforms.calls.find(photosOf(prompt))!
    expect(photo.path).toBe(`/bot${TELEGRAM_BOT_ID}:TEST-telegram-bot-token/sendPhoto`)
    const body = photo.body as Photo
    expect(body.chat_id).toBe(update.message.chat.id)
    expect(body.reply_parameters.message_id).toBe(update.message.message_id)
    expect(body.photo).toMatch(/^https:\/\/bots\.test\/v1\/images\/[0-9a-f]{32}\.png$/)
    expect(body.caption).toContain(prompt)
    expect(body.caption).toContain('without: purple dots')
    expect(body.reply_markup.inline_keyboard[0]!.map((b) => [b.text, b.callback_data])).toEqual([
      ['Re-roll', `r:${job!.id}`],
      ['Without…', `w:${job!.id}`],
    ])
    expect((await imageAt(body.photo)).headers.get('content-type')).toBe('image/png')
  }, 30_000)

  it('takes /imagine@BotName in groups (its own name from getMe, cached) and ignores commands for another bot', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const group = -100123
    const mine = await sendTelegram(message(`/imagine@SnoopiTestBot ${prompt}`, { chat: group, type: 'supergroup' }))
    expect(await mine.json()).toMatchObject({ method: 'sendChatAction', chat_id: group })
    const other = await sendTelegram(message(`/imagine@SomeOtherBot ${prompt}`, { chat: group, type: 'supergroup' }))
    expect(other.status).toBe(200)
    expect(await other.text()).toBe('')
    expect(await sendTelegram(message(`/imagine@snoopitestbot ${prompt} --seed 3`, { chat: group, type: 'group' })).then((r) => r.status)).toBe(200)
    const jobs = await jobsSoon(prompt, 2)
    expect(jobs.map((j) => j.request)).toHaveLength(2)
    expect(jobs.map((j) => j.request)).toEqual(expect.arrayContaining([{ prompt }, { prompt, seed: 3 }]))
    expect(platforms.to('telegram.test', '/getMe')).toHaveLength(1)
    // With TELEGRAM_BOT_USERNAME set, getMe is never asked.
    const named = await sendTelegram(message(`/imagine@NamedBot ${unique()}`), botEnv({ TELEGRAM_BOT_USERNAME: 'NamedBot' }))
    expect(await named.json()).toMatchObject({ method: 'sendChatAction' })
    expect(platforms.to('telegram.test', '/getMe')).toHaveLength(1)
  }, 30_000)

  it('gives a duplicate update the same answer and starts nothing', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const update = message(`/imagine ${prompt}`)
    const answers = await Promise.all([sendTelegram(update), sendTelegram(update), sendTelegram(update)])
    const bodies = await Promise.all(answers.map((a) => a.json()))
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1)
    await platforms.until((calls) => calls.some(photosOf(prompt)))
    await sleep(300)
    expect(await jobsFor(prompt)).toHaveLength(1)
    expect(platforms.calls.filter(photosOf(prompt))).toHaveLength(1)
  }, 30_000)

  it('makes Re-roll a new job and Without… a force-reply prompt whose reply is a new job; answers every callback', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const command = message(`/imagine ${prompt} --seed 7`)
    const user = command.message.from
    await sendTelegram(command)
    await platforms.until((calls) => calls.some(photosOf(prompt)))
    const [job] = await jobsSoon(prompt)
    const photoMessage = { message_id: 9001, chat: command.message.chat, date: 0 }

    const reroll = await sendTelegram({ update_id: nextUpdate++, callback_query: { id: 'cb1', from: user, message: photoMessage, data: `r:${job!.id}` } })
    expect(await reroll.json()).toEqual({ method: 'answerCallbackQuery', callback_query_id: 'cb1', text: 'Drawing…' })
    await platforms.until((calls) => calls.filter(photosOf(prompt)).length >= 2)
    expect((await jobsFor(prompt)).find((j) => j.id !== job!.id)?.request).toEqual({ prompt, seed: 8 })

    const ask = await sendTelegram({ update_id: nextUpdate++, callback_query: { id: 'cb2', from: user, message: photoMessage, data: `w:${job!.id}` } })
    expect(await ask.json()).toEqual({ method: 'answerCallbackQuery', callback_query_id: 'cb2' })
    const prompted = platforms.calls.filter((c) => c.path.endsWith('/sendMessage')).at(-1)!
    expect(prompted.body).toMatchObject({ chat_id: command.message.chat.id, reply_parameters: { message_id: 9001 }, reply_markup: { force_reply: true } })
    expect((prompted.body as { text: string }).text).toContain(prompt)
  }, 40_000)

  it('turns a reply to the "Without…" prompt into a job with that negative prompt and the same seed', async () => {
    const platforms = fakePlatforms({
      behave: (call) => (call.path.endsWith('/sendMessage') ? Response.json({ ok: true, result: { message_id: 4242, chat: { id: 1 } } }) : undefined),
    })
    const prompt = unique()
    const command = message(`/imagine ${prompt} --seed 70`)
    const user = command.message.from
    await sendTelegram(command)
    await platforms.until((calls) => calls.some(photosOf(prompt)))
    const [job] = await jobsSoon(prompt)
    await sendTelegram({ update_id: nextUpdate++, callback_query: { id: 'cb3', from: user, message: { message_id: 9002, chat: command.message.chat, date: 0 }, data: `w:${job!.id}` } })
    const reply = message('orange hexagons', { user: user.id, chat: command.message.chat.id, reply: { message_id: 4242, from: { id: Number(TELEGRAM_BOT_ID), is_bot: true } } })
    expect(await (await sendTelegram(reply)).json()).toMatchObject({ method: 'sendChatAction' })
    await platforms.until((calls) => calls.filter(photosOf(prompt)).length >= 2)
    const jobs = await jobsFor(prompt)
    expect(jobs[0]?.request).toEqual({ prompt, negative_prompt: 'orange hexagons', seed: 70 })
    // A reply to some other message of the bot is not an answer to a prompt.
    const stray = message('whatever', { user: user.id, chat: command.message.chat.id, reply: { message_id: 1, from: { id: Number(TELEGRAM_BOT_ID), is_bot: true } } })
    expect(await (await sendTelegram(stray)).text()).toBe('')
  }, 40_000)

  it('answers /link, /unlink, /quota and help as a reply in the webhook answer', async () => {
    fakePlatforms()
    const quota = await (await sendTelegram(message('/quota'))).json<{ method: string; text: string }>()
    expect(quota.method).toBe('sendMessage')
    expect(quota.text).toContain('You can draw 3 more right now')
    const help = await (await sendTelegram(message('/start'))).json<{ text: string }>()
    expect(help.text).toContain('/imagine <prompt>')
    const unlink = await (await sendTelegram(message('/unlink'))).json<{ text: string }>()
    expect(unlink.text).toContain('no API key linked')
    const link = await (await sendTelegram(message('/link NOTACODE'))).json<{ text: string }>()
    expect(link.text).toContain('not a link code')
  })
})

describe('Bot API calls (a MOCK Telegram behind fetch)', () => {
  it('retry a 429 after parameters.retry_after, back off on 5xx, and stop on other errors', async () => {
    const answers = [
      Response.json({ ok: false, error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } }, { status: 429 }),
      Response.json({ ok: false, error_code: 502, description: 'Bad Gateway' }, { status: 502 }),
      Response.json({ ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' }, { status: 403 }),
      Response.json({ ok: true, result: { message_id: 1 } }),
    ]
    fakePlatforms({ behave: () => answers.shift() })
    const api = { apiBase: 'http://telegram.test', botToken: '1:x' }
    expect((await botApiCall(api, 'sendPhoto', {}, 1)).verdict).toEqual({ kind: 'retry', delaySeconds: 7, reason: 'rate limited (429)' })
    expect((await botApiCall(api, 'sendPhoto', {}, 2)).verdict).toMatchObject({ kind: 'retry', reason: 'telegram: 502' })
    expect((await botApiCall(api, 'sendPhoto', {}, 3)).verdict).toMatchObject({ kind: 'failed', reason: expect.stringContaining('blocked') as string })
    expect(await botApiCall(api, 'sendPhoto', {}, 4)).toEqual({ verdict: { kind: 'delivered' }, result: { message_id: 1 } })
  })
})
