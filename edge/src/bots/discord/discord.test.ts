// The Discord bot through the whole worker: real Ed25519 signatures (WebCrypto in workerd), the real
// Durable Objects, jobs queue and delivery queue. Discord itself is a MOCK (edge/src/testing/bot-platforms.ts:
// the worker's outbound fetch to discord.test is intercepted), and so is the GPU tier.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { toHex } from '@snoopi/gpu-service/contract/hex'
import type { BotInstall } from '../bot-install.ts'
import { installStub, jobStoreStub } from '../bot-service.ts'
import { newJobId } from '../../jobs/job-record.ts'
import { discordEvent } from './discord-interaction.ts'
import {
  BOT_API_KEY,
  botEnv,
  botFetch,
  DISCORD_APPLICATION_ID,
  discordCommand,
  discordHeaders,
  fakePlatforms,
  imageAt,
  jobsFor,
  jobsSoon,
  nowSeconds,
  PUBLIC_BASE_URL,
  sendDiscord,
  sleep,
  type PlatformCall, useBotTestHooks
} from '../../testing/bot-platforms.ts'

useBotTestHooks()

const unique = () => `a red circle ${crypto.randomUUID().slice(0, 8)}`
type Answer = { type: number; data?: { content?: string; flags?: number; custom_id?: string; title?: string; components?: unknown[] } }
type EditBody = { content: string; embeds: { description: string; image: { url: string } }[]; components: { components: { label: string; custom_id: string }[] }[] }

function originalOf(token: string) {
  return (c: PlatformCall) => c.method === 'PATCH' && c.path === `/api/v10/webhooks/${DISCORD_APPLICATION_ID}/${token}/messages/@original`
}

describe('POST /bots/discord/interactions', () => {
  it('answers 404 while Discord is off (no public key, or no BOT_API_KEY), and the rest of the worker is unaffected', async () => {
    fakePlatforms()
    const payload = discordCommand('imagine', { prompt: 'x' })
    expect((await sendDiscord(payload, botEnv({ DISCORD_PUBLIC_KEY: undefined }))).status).toBe(404)
    expect((await sendDiscord(payload, botEnv({ BOT_API_KEY: undefined }))).status).toBe(404)
    expect((await botFetch('/healthz', {}, botEnv({ BOT_API_KEY: undefined }))).status).toBe(200)
    expect((await botFetch('/v1/models', {}, botEnv({ BOT_API_KEY: 'garbage' }))).status).not.toBe(500)
    // A bad bot setting is a 500 for the bot routes only.
    expect((await sendDiscord(payload, botEnv({ BOT_USER_RATE: 'lots' }))).status).toBe(500)
  })

  it('refuses a missing, stale, future or wrong signature and a tampered body with 401; answers PING with PONG', async () => {
    const platforms = fakePlatforms()
    const ping = JSON.stringify({ id: '1', application_id: DISCORD_APPLICATION_ID, type: 1, token: 't' })
    const post = (body: string, headers: Record<string, string>) => botFetch('/bots/discord/interactions', { method: 'POST', headers, body })
    const good = await discordHeaders(ping)
    const pong = await post(ping, good)
    expect(pong.status).toBe(200)
    expect(await pong.json()).toEqual({ type: 1 })

    expect((await post(ping, { 'content-type': 'application/json' })).status).toBe(401)
    expect((await post(ping, { ...good, 'x-signature-ed25519': '' })).status).toBe(401)
    expect((await post(ping.replace('"id":"1"', '"id":"2"'), good)).status).toBe(401)
    const stale = String(Number(nowSeconds()) - 600)
    expect((await post(ping, await discordHeaders(ping, { timestamp: stale }))).status).toBe(401)
    const future = String(Number(nowSeconds()) + 600)
    expect((await post(ping, await discordHeaders(ping, { timestamp: future }))).status).toBe(401)
    // Signed by a key pair generated here (not the application's): refused; with its public key configured: accepted.
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const other = await discordHeaders(ping, { key: pair.privateKey })
    expect((await post(ping, other)).status).toBe(401)
    const publicKey = toHex((await crypto.subtle.exportKey('raw', pair.publicKey)) as ArrayBuffer)
    const ok = await botFetch('/bots/discord/interactions', { method: 'POST', headers: other, body: ping }, botEnv({ DISCORD_PUBLIC_KEY: publicKey }))
    expect(await ok.json()).toEqual({ type: 1 })
    // Another application's interaction, though signed: refused.
    const foreign = JSON.stringify({ id: '1', application_id: '999', type: 1, token: 't' })
    expect((await post(foreign, await discordHeaders(foreign))).status).toBe(401)
    expect(platforms.calls).toEqual([])
  })

  it('answers /imagine with a deferred answer (type 5), runs it as a job of the operator key, and edits @original with the PNG and two buttons', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const payload = discordCommand('imagine', { prompt, negative: 'blue squares' })
    const started = Date.now()
    const response = await sendDiscord(payload)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ type: 5 })

    const [job] = await jobsSoon(prompt)
    expect(job?.request).toEqual({ prompt, negative_prompt: 'blue squares' })
    await platforms.until((calls) => calls.some(originalOf(payload.token)))
    const edit = platforms.calls.find(originalOf(payload.token))!.body as EditBody
    const url = edit.embeds[0]!.image.url
    expect(url).toMatch(/^https:\/\/bots\.test\/v1\/images\/[0-9a-f]{32}\.png$/)
    expect(edit.embeds[0]!.description).toContain(prompt)
    expect(edit.embeds[0]!.description).toContain('without: blue squares')
    expect(edit.content).toBe(`<@${payload.member.user.id}>`)
    expect(edit.components[0]!.components.map((b) => [b.label, b.custom_id])).toEqual([
      ['Re-roll', `r:${job!.id}`],
      ['Without…', `w:${job!.id}`],
    ])
    const image = await imageAt(url)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/png')
    // The GPU stand-in's fake PNG for this prompt, byte for byte.
    expect(new TextDecoder().decode(await image.arrayBuffer())).toMatch(new RegExp(`^\u0089PNG fake ${prompt} \\d+$`))
    expect(platforms.gpu.calls).toBe(1)
  }, 30_000)

  it('gives a duplicate interaction the same answer and starts nothing', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const payload = discordCommand('imagine', { prompt })
    const answers = await Promise.all([sendDiscord(payload), sendDiscord(payload)])
    expect(await Promise.all(answers.map((a) => a.json()))).toEqual([{ type: 5 }, { type: 5 }])
    expect(await (await sendDiscord(payload)).json()).toEqual({ type: 5 })
    await platforms.until((calls) => calls.some(originalOf(payload.token)))
    await sleep(300)
    expect(await jobsFor(prompt)).toHaveLength(1)
    expect(platforms.calls.filter(originalOf(payload.token))).toHaveLength(1)
  }, 30_000)

  it('parses options and flags: the negative option or --no, the seed option or --seed, never both', async () => {
    fakePlatforms()
    const prompt = unique()
    expect(await (await sendDiscord(discordCommand('imagine', { prompt: `${prompt} --no snow --seed 9` }))).json()).toEqual({ type: 5 })
    const [job] = await jobsSoon(prompt)
    expect(job?.request).toEqual({ prompt, negative_prompt: 'snow', seed: 9 })
    const both = await (await sendDiscord(discordCommand('imagine', { prompt: `${prompt} --no snow`, negative: 'rain' }))).json<Answer>()
    expect(both).toMatchObject({ type: 4, data: { flags: 64 } })
    expect(both.data?.content).toContain('once')
    const bad = await (await sendDiscord(discordCommand('imagine', { prompt: '   ' }))).json<Answer>()
    expect(bad).toMatchObject({ type: 4, data: { flags: 64 } })
  }, 30_000)

  it('makes every button click a new job: Re-roll (same request, next seed, type 5 on the click token) and Without… (a modal, then the same seed without it)', async () => {
    const platforms = fakePlatforms()
    const prompt = unique()
    const first = discordCommand('imagine', { prompt, seed: 100 })
    expect(await (await sendDiscord(first)).json()).toEqual({ type: 5 })
    await platforms.until((calls) => calls.some(originalOf(first.token)))
    const [job] = await jobsSoon(prompt)
    const click = { ...discordCommand('x', {}), type: 3, data: { custom_id: `r:${job!.id}`, component_type: 2 } }
    expect(await (await sendDiscord(click)).json()).toEqual({ type: 5 })
    await platforms.until((calls) => calls.some(originalOf(click.token)))
    const rerolled = (await jobsFor(prompt)).find((j) => j.id !== job!.id)
    expect(rerolled?.request).toEqual({ prompt, seed: 101 })

    const ask = { ...discordCommand('x', {}), type: 3, data: { custom_id: `w:${job!.id}`, component_type: 2 } }
    const modal = await (await sendDiscord(ask)).json<Answer>()
    expect(modal.type).toBe(9)
    expect(modal.data?.custom_id).toBe(`w:${job!.id}`)
    expect(modal.data?.title).toBe('Without…')
    const submit = { ...discordCommand('x', {}), type: 5, data: { custom_id: `w:${job!.id}`, components: [{ type: 1, components: [{ type: 4, custom_id: 'negative', value: 'green triangles' }] }] } }
    expect(await (await sendDiscord(submit)).json()).toEqual({ type: 5 })
    await platforms.until((calls) => calls.some(originalOf(submit.token)))
    const jobs = await jobsFor(prompt)
    expect(jobs).toHaveLength(3)
    expect(jobs[0]?.request).toEqual({ prompt, negative_prompt: 'green triangles', seed: 100 })
    // A forged button (a job this install never made) starts nothing.
    const forged = { ...discordCommand('x', {}), type: 3, data: { custom_id: 'r:job_000000000000AAAAAAAAAAAAAAAAAAAA', component_type: 2 } }
    expect(await (await sendDiscord(forged)).json()).toMatchObject({ type: 4, data: { flags: 64 } })
    expect(await jobsFor(prompt)).toHaveLength(3)
  }, 45_000)

  it('retries a 429 after its Retry-After and a 5xx with backoff, then delivers', async () => {
    let patches = 0
    const platforms = fakePlatforms({
      behave: (call) => {
        if (call.method !== 'PATCH') return undefined
        patches++
        if (patches === 1) return Response.json({ message: 'You are being rate limited.', retry_after: 1.2, global: false }, { status: 429, headers: { 'retry-after': '2' } })
        if (patches === 2) return new Response('upstream hiccup', { status: 502 })
        return undefined
      },
    })
    const payload = discordCommand('imagine', { prompt: unique() })
    expect(await (await sendDiscord(payload)).json()).toEqual({ type: 5 })
    const calls = await platforms.until((c) => c.filter(originalOf(payload.token)).length >= 3, 30_000)
    const attempts = calls.filter(originalOf(payload.token))
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1900)
    const state = await jobStoreStub(env, 'discord', DISCORD_APPLICATION_ID).delivery(((attempts[2]!.body as EditBody).components[0]!.components[0]!.custom_id).slice(2))
    expect(state).toMatchObject({ state: 'delivered', attempts: 3 })
    expect(state.results[0]).toContain('429')
    expect(state.results[1]).toContain('502')
  }, 40_000)

  it('falls back to a channel message with the bot token when the interaction token is gone (404), and dead-letters a DM it cannot reach', async () => {
    const platforms = fakePlatforms({ behave: (call) => (call.method === 'PATCH' ? Response.json({ message: 'Unknown Webhook', code: 10015 }, { status: 404 }) : undefined) })
    const payload = discordCommand('imagine', { prompt: unique() })
    await sendDiscord(payload)
    const calls = await platforms.until((c) => c.some((x) => x.method === 'POST' && x.path === '/api/v10/channels/42/messages'))
    const fallback = calls.find((x) => x.path === '/api/v10/channels/42/messages')!
    expect(fallback.headers.authorization).toBe('Bot test-discord-bot-token')
    expect((fallback.body as EditBody).embeds[0]!.image.url).toMatch(/\/v1\/images\/[0-9a-f]{32}\.png$/)

    // In a DM (no guild channel the bot may post in) there is no fallback: the delivery ends dead-lettered, visibly.
    const dm = discordCommand('imagine', { prompt: unique() })
    const { guild_id: _guild, member, ...rest } = dm
    const direct = { ...rest, user: member.user }
    await sendDiscord(direct)
    await platforms.until((c) => c.some(originalOf(direct.token)))
    const [job] = await jobsFor(direct.data.options[0]!.value as string)
    const install = jobStoreStub(env, 'discord', DISCORD_APPLICATION_ID)
    await vi.waitFor(async () => expect((await install.delivery(job!.id)).state).toBe('dead'), { timeout: 15_000, interval: 100 })
    expect((await install.delivery(job!.id)).results.join(' ')).toContain('gone')
  }, 40_000)

  it('tells the user once when the job fails (the GPU tier refuses it), editing the deferred answer', async () => {
    const platforms = fakePlatforms({ gpu: () => Response.json({ error: { type: 'server_error', code: 'generation_failed', message: 'the image could not be generated' } }, { status: 500 }) })
    const payload = discordCommand('imagine', { prompt: unique() })
    expect(await (await sendDiscord(payload)).json()).toEqual({ type: 5 })
    await platforms.until((calls) => calls.some(originalOf(payload.token)))
    await sleep(1500)
    const edits = platforms.calls.filter(originalOf(payload.token))
    expect(edits).toHaveLength(1)
    const edit = edits[0]!.body as { content: string; embeds: unknown[] }
    expect(edit.content).toMatch(/^Sorry — I could not draw “a red circle [0-9a-f]{8}”: /)
    expect(edit.embeds).toEqual([])
    const [job] = await jobsFor(payload.data.options[0]!.value as string)
    expect(job?.status).toBe('failed')
  }, 30_000)

  it("loses nothing when a delivery message is lost: the install's watchdog sends it again", async () => {
    const platforms = fakePlatforms()
    // A job of the operator key whose delivery is recorded and watched, but whose message never went out.
    const prompt = unique()
    const submitted = await botFetch('/v1/jobs', { method: 'POST', headers: { authorization: `Bearer ${BOT_API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) })
    expect(submitted.status).toBe(202)
    const { id } = await submitted.json<{ id: string }>()
    const application = `4${Date.now()}`
    const install = jobStoreStub(env, 'discord', application)
    const token = `itoken-${crypto.randomUUID()}`
    await install.jobStarted({
      id,
      platform: 'discord',
      install: application,
      user: 'u1',
      request: { prompt },
      created: Date.now(),
      target: { platform: 'discord', applicationId: application, token, issuedAt: Date.now(), channelId: '42', guildId: '7001' },
      via: 'install',
    })
    await sleep(1500)
    expect(platforms.calls.filter((c) => c.path.includes(token))).toEqual([])
    await runInDurableObject(install, (instance: BotInstall) => {
      const real = instance.clock
      instance.clock = () => real() + 91_000
    })
    expect(await runDurableObjectAlarm(install)).toBe(true)
    await platforms.until((calls) => calls.some((c) => c.method === 'PATCH' && c.path.includes(token)))
    await vi.waitFor(async () => expect((await install.delivery(id)).state).toBe('delivered'), { timeout: 5000, interval: 50 })
  }, 30_000)

  it("starts an answered generation again when its start message was lost (the front's alarm): one job, delivered", async () => {
    const platforms = fakePlatforms()
    const application = `3${Date.now()}`
    const payload = { ...discordCommand('imagine', { prompt: unique() }), application_id: application }
    const event = discordEvent(payload, Date.now())
    const front = installStub(env, 'discord', application)
    // Answered (entered with its intake), its start "sent" — and lost: nothing reached the queue.
    await runInDurableObject(front, async (instance: BotInstall, state) => {
      const entry = await instance.enter({ event: event.eventId, user: event.user.id, admit: true, rate: { count: 5, periodSeconds: 60, burst: 3 }, concurrency: 4, intake: { event, jobId: newJobId(), baseUrl: PUBLIC_BASE_URL } })
      expect(entry.kind).toBe('admitted')
      state.storage.sql.exec(`UPDATE intake SET sent = 1, due = 0`)
    })
    await sleep(500)
    expect(platforms.calls.filter((c) => c.path.includes(payload.token))).toEqual([])
    expect(await runDurableObjectAlarm(front)).toBe(true)
    await platforms.until((calls) => calls.some((c) => c.method === 'PATCH' && c.path.includes(payload.token)))
    expect(await jobsFor(payload.data.options[0]!.value as string)).toHaveLength(1)
    // Once the store knows it started, the next alarm forgets the intake.
    await runInDurableObject(front, (_instance: BotInstall, state) => {
      state.storage.sql.exec(`UPDATE intake SET due = 0`)
    })
    await runDurableObjectAlarm(front)
    expect(await front.intake(event.eventId)).toBeNull()
  }, 30_000)
})
