// Linked accounts and the limits of unlinked users, through the whole worker (Discord as the platform:
// a MOCK behind the worker's fetch, see edge/src/testing/bot-platforms.ts).
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { botEnv, botFetch, discordCommand, fakePlatforms, jobsFor, jobsSoon, sendDiscord, DISCORD_APPLICATION_ID, useBotTestHooks } from '../testing/bot-platforms.ts'
import { createKey } from '../testing/jobs.ts'
import { pngAnswer } from '../testing/gpu-stand-in.ts'
import type { BotLinkCode } from './link-codes.ts'

useBotTestHooks()

type Answer = { type: number; data?: { content: string; flags: number } }
const unique = () => `a white ring ${crypto.randomUUID().slice(0, 8)}`
const user = () => `u${crypto.randomUUID().slice(0, 12)}`

async function say(who: string, name: string, options: Record<string, string | number> = {}, bindings = botEnv()): Promise<Answer> {
  return (await sendDiscord(discordCommand(name, options, { user: who }), bindings)).json<Answer>()
}

async function linkCode(key: string): Promise<{ code: string; expires_at: number; key_id: string }> {
  const response = await botFetch('/v1/bot-links', { method: 'POST', headers: { authorization: `Bearer ${key}` } })
  expect(response.status).toBe(201)
  return response.json()
}

describe('POST /v1/bot-links and /link', () => {
  it('issues a one-time code (10 minutes) that binds the platform user to the key, whose jobs and quota then apply; /unlink undoes it', async () => {
    fakePlatforms()
    expect((await botFetch('/v1/bot-links', { method: 'POST' })).status).toBe(401)
    const key = await createKey('pro')
    const issued = await linkCode(key)
    expect(issued.code).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/)
    expect(issued.expires_at - Math.floor(Date.now() / 1000)).toBeGreaterThan(590)
    expect(issued.expires_at - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(600)

    const who = user()
    const linked = await say(who, 'link', { code: issued.code.toLowerCase() })
    expect(linked).toMatchObject({ type: 4, data: { flags: 64 } })
    expect(linked.data?.content).toContain(`Linked: your images here now use your API key ${issued.key_id}`)
    // The code is spent.
    expect((await say(user(), 'link', { code: issued.code })).data?.content).toContain('used already')

    const prompt = unique()
    expect(await say(who, 'imagine', { prompt })).toEqual({ type: 5 })
    expect(await jobsSoon(prompt, 1, key)).toHaveLength(1)
    expect(await jobsFor(prompt)).toHaveLength(0)
    const quota = await say(who, 'quota')
    expect(quota.data?.content).toContain(`Your API key ${issued.key_id} (plan pro)`)

    expect((await say(who, 'unlink')).data?.content).toContain(`Unlinked ${issued.key_id}`)
    const after = unique()
    expect(await say(who, 'imagine', { prompt: after })).toEqual({ type: 5 })
    expect(await jobsSoon(after)).toHaveLength(1)
    expect((await say(who, 'unlink')).data?.content).toContain('no API key linked')
  }, 30_000)

  it('refuses an unknown, malformed or expired code', async () => {
    fakePlatforms()
    expect((await say(user(), 'link', { code: 'ABCDE-12345' })).data?.content).toContain('do not know that code')
    expect((await say(user(), 'link', { code: 'nope' })).data?.content).toContain('not a link code')
    const issued = await linkCode(await createKey('pro'))
    const namespace = env.BOT_LINK_CODES as DurableObjectNamespace<BotLinkCode>
    await runInDurableObject(namespace.get(namespace.idFromName(issued.code)), (instance: BotLinkCode) => {
      instance.clock = () => Date.now() + 10 * 60_000 + 1
    })
    expect((await say(user(), 'link', { code: issued.code })).data?.content).toContain('expired')
  })

  it("applies the linked key's own limits, not the install's (a test-plan key: 3 requests a minute, 2 unfinished jobs)", async () => {
    const platforms = fakePlatforms()
    const key = await createKey('test')
    const who = user()
    await say(who, 'link', { code: (await linkCode(key)).code })
    const sent: ReturnType<typeof discordCommand>[] = []
    for (let i = 0; i < 4; i++) {
      const payload = discordCommand('imagine', { prompt: unique() }, { user: who })
      // Every generation is answered at once (deferred); the key's verdict comes after.
      expect(await (await sendDiscord(payload)).json()).toEqual({ type: 5 })
      sent.push(payload)
    }
    // The key refuses beyond its limits: the deferred answer becomes the refusal, with the retry time.
    const refusals = await vi.waitFor(
      () => {
        const edits = sent.map((p) => platforms.calls.find((c) => c.method === 'PATCH' && c.path.includes(p.token))?.body as { content?: string; embeds?: unknown[] } | undefined)
        expect(edits.every((e) => e !== undefined)).toBe(true)
        return edits.filter((e) => e?.content?.startsWith('This API key'))
      },
      { timeout: 15_000, interval: 100 },
    )
    expect(refusals.length, JSON.stringify(platforms.calls.filter((c) => c.method === 'PATCH').map((c) => (c.body as { content?: string }).content))).toBeGreaterThan(0)
    expect(refusals[0]?.content).toMatch(/^This API key.*Try again in \d+ s\.$/)
    expect((await jobsFor(sent[0]!.data.options[0]!.value as string, key))).toHaveLength(1)
  }, 30_000)
})

describe('unlinked users', () => {
  it('spend the install key under a per-user token bucket (BOT_USER_RATE, default 5/min, burst 3): a polite refusal with the retry time', async () => {
    fakePlatforms()
    const who = user()
    const answers = []
    // A roomy install cap, so that only the user's bucket can refuse here.
    const roomy = botEnv({ BOT_INSTALL_CONCURRENCY: '100' })
    for (let i = 0; i < 4; i++) answers.push(await say(who, 'imagine', { prompt: unique() }, roomy))
    expect(answers.slice(0, 3)).toEqual([{ type: 5 }, { type: 5 }, { type: 5 }])
    expect(answers[3]).toMatchObject({ type: 4, data: { flags: 64 } })
    expect(answers[3]?.data?.content).toMatch(/faster than this workspace allows \(5 per 60 s\)\. Try again in (1[0-2]|[1-9]) s/)
    // Another user is not affected; /quota tells the first what is left.
    expect(await say(user(), 'imagine', { prompt: unique() }, roomy)).toEqual({ type: 5 })
    expect((await say(who, 'quota', {}, roomy)).data?.content).toMatch(/You can draw 0 more right now .* The next one in \d+ s/)
    // A faster setting is honoured.
    const quick = user()
    const fast = botEnv({ BOT_USER_RATE: '60/min, burst 5', BOT_INSTALL_CONCURRENCY: '100' })
    for (let i = 0; i < 5; i++) expect(await say(quick, 'imagine', { prompt: unique() }, fast)).toEqual({ type: 5 })
  }, 30_000)

  it('share a per-install concurrency cap (BOT_INSTALL_CONCURRENCY): beyond it a polite refusal; a delivered job frees its slot', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const platforms = fakePlatforms({
      gpu: async (body) => {
        await gate
        return pngAnswer(body)
      },
    })
    // A fresh install (another application id) so other tests' jobs hold none of its slots.
    const application = `2${Date.now()}`
    const bindings = botEnv({ BOT_INSTALL_CONCURRENCY: '2', DISCORD_APPLICATION_ID: application })
    const send = async (who: string) => {
      const payload = { ...discordCommand('imagine', { prompt: unique() }, { user: who }), application_id: application }
      return { payload, answer: await (await sendDiscord(payload, bindings)).json<Answer>() }
    }
    const a = await send(user())
    const b = await send(user())
    const c = await send(user())
    expect([a.answer, b.answer]).toEqual([{ type: 5 }, { type: 5 }])
    expect(c.answer.data?.content).toContain("This workspace's images are all busy right now. Try again in 10 s.")
    release()
    await platforms.until((calls) => [a, b].every(({ payload }) => calls.some((x) => x.method === 'PATCH' && x.path.includes(payload.token))))
    await vi.waitFor(async () => expect((await send(user())).answer).toEqual({ type: 5 }), { timeout: 10_000, interval: 200 })
    expect(DISCORD_APPLICATION_ID).not.toBe(application)
  }, 40_000)
})
