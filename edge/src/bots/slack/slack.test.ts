// The Slack bot through the whole worker: real v0 HMAC signatures, the real Durable Objects and queues.
// Slack itself is a MOCK (edge/src/testing/bot-platforms.ts intercepts the worker's fetch to slack.test and
// hooks.slack.test); so is the GPU tier.
import { describe, expect, it } from 'vitest'
import { botEnv, botFetch, fakePlatforms, imageAt, jobsFor, jobsSoon, nowSeconds, sendSlack, sleep, slackHeaders, type PlatformCall, useBotTestHooks } from '../../testing/bot-platforms.ts'
import { deliverSlack, RESPONSE_URL_MS } from './slack-api.ts'

useBotTestHooks()

const unique = () => `a blue square ${crypto.randomUUID().slice(0, 8)}`
const responseUrl = () => `http://hooks.slack.test/commands/T1/${crypto.randomUUID()}`

function command(text: string, extra: Record<string, string> = {}) {
  return {
    token: 'legacy',
    team_id: 'T1',
    team_domain: 'tests',
    channel_id: 'C1',
    channel_name: 'general',
    user_id: `U${crypto.randomUUID().slice(0, 8).toUpperCase()}`,
    user_name: 'roadrunner',
    command: '/imagine',
    text,
    api_app_id: 'A1',
    response_url: responseUrl(),
    trigger_id: `${Date.now()}.${Math.floor(Math.random() * 1e9)}.abc`,
    ...extra,
  }
}

type Block = { type: string; image_url?: string; elements?: { type: string; text: { text: string } | string; value?: string; action_id?: string }[] }
type Posted = { response_type?: string; replace_original?: boolean; text: string; blocks?: Block[]; channel?: string }
const to = (url: string) => (c: PlatformCall) => c.host === 'hooks.slack.test' && `http://${c.host}${c.path}` === url

function click(user: string, value: string, url: string) {
  return {
    payload: JSON.stringify({
      type: 'block_actions',
      team: { id: 'T1' },
      user: { id: user, username: 'roadrunner', team_id: 'T1' },
      api_app_id: 'A1',
      channel: { id: 'C1' },
      trigger_id: `${Date.now()}.${Math.floor(Math.random() * 1e9)}.def`,
      response_url: url,
      actions: [{ type: 'button', action_id: value.startsWith('r:') ? 'snoopi_reroll' : 'snoopi_without', value, action_ts: String(Date.now() / 1000) }],
    }),
  }
}

describe('POST /bots/slack/commands', () => {
  it('answers 404 while Slack is off, and 401 for a tampered body, a stale or future timestamp, or a missing header', async () => {
    fakePlatforms()
    const form = command('a cat')
    expect((await sendSlack('/bots/slack/commands', form, botEnv({ SLACK_SIGNING_SECRET: undefined }))).status).toBe(404)
    expect((await sendSlack('/bots/slack/interactivity', { payload: '{}' }, botEnv({ SLACK_SIGNING_SECRET: '' }))).status).toBe(404)
    const body = new URLSearchParams(form).toString()
    const post = (text: string, headers: Record<string, string>) => botFetch('/bots/slack/commands', { method: 'POST', headers, body: text })
    const good = await slackHeaders(body)
    expect((await post(body.replace('a+cat', 'a+dog'), good)).status).toBe(401)
    expect((await post(body, await slackHeaders(body, String(Number(nowSeconds()) - 301)))).status).toBe(401)
    expect((await post(body, await slackHeaders(body, String(Number(nowSeconds()) + 301)))).status).toBe(401)
    expect((await post(body, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401)
    expect((await post(body, { ...good, 'x-slack-request-timestamp': '' })).status).toBe(401)
    expect(await jobsFor('a cat')).toEqual([])
  })

  it('answers /imagine … --no … --seed with an ephemeral "Generating…", then posts the PNG in the channel through response_url with Re-roll and Without… buttons', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const form = command(`${prompt} --no red circles --seed 5`)
    const started = Date.now()
    const response = await sendSlack('/bots/slack/commands', form)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ response_type: 'ephemeral', text: `Generating… “${prompt}”` })
    const [job] = await jobsSoon(prompt)
    expect(job?.request).toEqual({ prompt, negative_prompt: 'red circles', seed: 5 })

    await platforms.until((calls) => calls.some(to(form.response_url)))
    const posted = platforms.calls.find(to(form.response_url))!.body as Posted
    expect(posted).toMatchObject({ response_type: 'in_channel', replace_original: true })
    const image = posted.blocks!.find((b) => b.type === 'image')!
    expect(image.image_url).toMatch(/^https:\/\/bots\.test\/v1\/images\/[0-9a-f]{32}\.png$/)
    const actions = posted.blocks!.find((b) => b.type === 'actions')!
    expect(actions.elements!.map((e) => [e.type, (e.text as { text: string }).text, e.value])).toEqual([
      ['button', 'Re-roll', `r:${job!.id}`],
      ['button', 'Without…', `w:${job!.id}`],
    ])
    expect((await imageAt(image.image_url!)).headers.get('content-type')).toBe('image/png')
  }, 30_000)

  it('refuses a response_url outside SLACK_RESPONSE_URL_PREFIX: 200 with an ephemeral error, nothing posted, no job', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    for (const url of ['https://evil.example/hook', 'http://hooks.slack.test.evil.example/x', 'http://hooks.slack.test@evil.example/x']) {
      const response = await sendSlack('/bots/slack/commands', command(prompt, { response_url: url }))
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ response_type: 'ephemeral' })
    }
    await sleep(300)
    expect(await jobsFor(prompt)).toEqual([])
    expect(platforms.calls).toEqual([])
  })

  it('gives a duplicate trigger the same answer and starts nothing', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const form = command(prompt)
    const [a, b] = await Promise.all([sendSlack('/bots/slack/commands', form), sendSlack('/bots/slack/commands', form)])
    expect(await a.json()).toEqual(await b.json())
    await platforms.until((calls) => calls.some(to(form.response_url)))
    await sleep(300)
    expect(await jobsFor(prompt)).toHaveLength(1)
    expect(platforms.calls.filter(to(form.response_url))).toHaveLength(1)
  }, 30_000)

  it('falls back to chat.postMessage with the bot token once the response_url is gone', async () => {
    const platforms = fakePlatforms({ behave: (call) => (call.host === 'hooks.slack.test' ? new Response('expired_url', { status: 404 }) : undefined) })
    const prompt = unique()
    await sendSlack('/bots/slack/commands', command(prompt))
    const calls = await platforms.until((c) => c.some((x) => x.path === '/api/chat.postMessage'))
    const post = calls.find((x) => x.path === '/api/chat.postMessage')!
    expect(post.headers.authorization).toBe('Bearer xoxb-test-slack-bot-token')
    expect((post.body as Posted).channel).toBe('C1')
    expect((post.body as Posted).blocks!.some((b) => b.type === 'image')).toBe(true)
  }, 30_000)
})

describe('POST /bots/slack/interactivity', () => {
  it('makes Re-roll a new job (next seed, posted as a new message) and Without… a modal whose submission is a new job posted with the bot token', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const form = command(`${prompt} --seed 41`)
    await sendSlack('/bots/slack/commands', form)
    await platforms.until((calls) => calls.some(to(form.response_url)))
    const [job] = await jobsSoon(prompt)

    const clickUrl = responseUrl()
    const answer = await sendSlack('/bots/slack/interactivity', click(form.user_id, `r:${job!.id}`, clickUrl))
    expect(answer.status).toBe(200)
    expect(await answer.text()).toBe('')
    await platforms.until((calls) => calls.filter(to(clickUrl)).length >= 2)
    const [generating, image] = platforms.calls.filter(to(clickUrl)).map((c) => c.body as Posted)
    expect(generating).toMatchObject({ response_type: 'ephemeral', replace_original: false, text: `Generating… “${prompt}”` })
    expect(image).toMatchObject({ response_type: 'in_channel', replace_original: false })
    const rerolled = (await jobsFor(prompt)).find((j) => j.id !== job!.id)
    expect(rerolled?.request).toEqual({ prompt, seed: 42 })

    const ask = click(form.user_id, `w:${job!.id}`, responseUrl())
    expect((await sendSlack('/bots/slack/interactivity', ask)).status).toBe(200)
    const open = platforms.calls.find((c) => c.path === '/api/views.open')!
    const view = (open.body as { trigger_id: string; view: { callback_id: string; private_metadata: string } }).view
    expect((open.body as { trigger_id: string }).trigger_id).toBe((JSON.parse(ask.payload) as { trigger_id: string }).trigger_id)
    expect(view.callback_id).toBe('snoopi_without')

    const submission = {
      payload: JSON.stringify({
        type: 'view_submission',
        team: { id: 'T1' },
        user: { id: form.user_id, team_id: 'T1' },
        trigger_id: `${Date.now()}.1.ghi`,
        view: { id: 'V1', hash: 'h1', callback_id: 'snoopi_without', private_metadata: view.private_metadata, state: { values: { negative: { negative: { type: 'plain_text_input', value: 'yellow stars' } } } } },
      }),
    }
    const closed = await sendSlack('/bots/slack/interactivity', submission)
    expect(closed.status).toBe(200)
    expect(await closed.text()).toBe('')
    await platforms.until((calls) => calls.some((c) => c.path === '/api/chat.postMessage'))
    const jobs = await jobsFor(prompt)
    expect(jobs).toHaveLength(3)
    expect(jobs[0]?.request).toEqual({ prompt, negative_prompt: 'yellow stars', seed: 41 })
    expect((platforms.calls.find((c) => c.path === '/api/chat.postMessage')!.body as Posted).channel).toBe('C1')

    // An empty negative prompt is shown as an error in the modal; nothing starts.
    const empty = JSON.parse(submission.payload) as { trigger_id: string; view: { state: { values: { negative: { negative: { value: string } } } } } }
    empty.trigger_id = `${Date.now()}.2.jkl`
    empty.view.state.values.negative.negative.value = '  '
    const refused = await sendSlack('/bots/slack/interactivity', { payload: JSON.stringify(empty) })
    expect(await refused.json()).toMatchObject({ response_action: 'errors', errors: { negative: expect.any(String) as string } })
    expect(await jobsFor(prompt)).toHaveLength(3)
  }, 45_000)
})

describe('deliverSlack (a MOCK Slack behind fetch)', () => {
  it('uses response_url within its budget (30 min, 5 uses) and chat.postMessage past it', async () => {
    const platforms = fakePlatforms()
    const api = { apiBase: 'http://slack.test/api', botToken: 'xoxb-t' }
    const now = Date.now()
    const fresh = await deliverSlack(api, { responseUrl: 'http://hooks.slack.test/x', issuedAt: now, channelId: 'C9', uses: 4 }, { text: 'a' }, () => ({ text: 'b' }), 1, now)
    expect(fresh).toMatchObject({ verdict: { kind: 'delivered' }, via: 'response_url', used: true })
    const spent = await deliverSlack(api, { responseUrl: 'http://hooks.slack.test/x', issuedAt: now, channelId: 'C9', uses: 5 }, { text: 'a' }, (channel) => ({ channel, text: 'b' }), 1, now)
    expect(spent).toMatchObject({ verdict: { kind: 'delivered' }, via: 'chat.postMessage', used: false })
    const old = await deliverSlack(api, { responseUrl: 'http://hooks.slack.test/x', issuedAt: now - RESPONSE_URL_MS, channelId: 'C9', uses: 0 }, { text: 'a' }, (channel) => ({ channel, text: 'b' }), 1, now)
    expect(old.via).toBe('chat.postMessage')
    const none = await deliverSlack({ apiBase: api.apiBase }, { responseUrl: 'http://hooks.slack.test/x', issuedAt: now - RESPONSE_URL_MS, uses: 0 }, { text: 'a' }, () => ({}), 1, now)
    expect(none.verdict.kind).toBe('gone')
    expect(platforms.calls.map((c) => `${c.host}${c.path}`)).toEqual(['hooks.slack.test/x', 'slack.test/api/chat.postMessage', 'slack.test/api/chat.postMessage'])
  })
})
