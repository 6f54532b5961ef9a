import { describe, expect, it } from 'vitest'
import { buttonId, MAX_BUTTON_ID_BYTES, parseButtonId } from './button-ids.ts'
import { buildRequest, describeRequest, parseImagineText, rerollRequest, withoutRequest } from './imagine-command.ts'
import { newLinkCode, normalizeLinkCode } from './link-codes.ts'
import { botSettings, parseUserRate, platformOn } from './bot-settings.ts'

describe('/imagine text', () => {
  it('takes flags after the prompt in any order, each value running to the next --flag or the end', () => {
    expect(parseImagineText('a red fox --no snow, trees --seed 7')).toEqual({ ok: true, value: { prompt: 'a red fox', negative_prompt: 'snow, trees', seed: 7 } })
    expect(parseImagineText('a red fox --seed 7 --no snow, trees')).toEqual({ ok: true, value: { prompt: 'a red fox', negative_prompt: 'snow, trees', seed: 7 } })
    expect(parseImagineText('  a cat  ')).toEqual({ ok: true, value: { prompt: 'a cat' } })
    // A dash inside a value is not a flag; phones' "—no" is.
    expect(parseImagineText('a well-lit room --no half-open doors, a -- b')).toEqual({ ok: true, value: { prompt: 'a well-lit room', negative_prompt: 'half-open doors, a -- b' } })
    expect(parseImagineText('a cat \u2014no dogs')).toEqual({ ok: true, value: { prompt: 'a cat', negative_prompt: 'dogs' } })
    expect(parseImagineText('a cat --NO dogs')).toEqual({ ok: true, value: { prompt: 'a cat', negative_prompt: 'dogs' } })
  })

  it('keeps big seeds exact (a decimal string above 2^53) and refuses bad ones', () => {
    expect(parseImagineText('x --seed 18446744073709551615')).toEqual({ ok: true, value: { prompt: 'x', seed: '18446744073709551615' } })
    expect(parseImagineText('x --seed 18446744073709551616').ok).toBe(false)
    expect(parseImagineText('x --seed -1').ok).toBe(false)
    expect(parseImagineText('x --seed 1.5').ok).toBe(false)
  })

  it('answers mistakes with a message, never an exception', () => {
    for (const [text, words] of [
      ['', 'say what to draw'],
      ['--no dogs', 'say what to draw'],
      ['a cat --no', '--no needs a value'],
      ['a cat --no dogs --no birds', 'given twice'],
      ['a cat --style anime', 'unknown flag --style'],
      [`${'x'.repeat(2001)}`, 'too long'],
    ] as const) {
      const parsed = parseImagineText(text)
      expect(parsed.ok, text).toBe(false)
      if (!parsed.ok) expect(parsed.message).toContain(words)
    }
  })

  it('re-rolls to the next seed (wrapping after 2^64 - 1) and adds a negative prompt keeping the seed', () => {
    expect(rerollRequest({ prompt: 'a', negative_prompt: 'b' }, 41n)).toEqual({ prompt: 'a', negative_prompt: 'b', seed: 42 })
    expect(rerollRequest({ prompt: 'a' }, 2n ** 64n - 1n)).toEqual({ prompt: 'a', seed: 0 })
    expect(withoutRequest({ prompt: 'a', negative_prompt: 'b' }, 9n, ' c ')).toEqual({ ok: true, value: { prompt: 'a', negative_prompt: 'b, c', seed: 9 } })
    expect(withoutRequest({ prompt: 'a' }, 9n, '  ').ok).toBe(false)
    expect(describeRequest({ prompt: 'a', negative_prompt: 'b', seed: 3 })).toBe('a — without: b · seed 3')
    expect(buildRequest({ prompt: 'a', negative: '   ' })).toEqual({ ok: true, value: { prompt: 'a' } })
  })
})

describe('button ids', () => {
  it('carry only the action and the job, within Telegram\'s 64 bytes, and refuse anything else', () => {
    const job = `job_${'0'.repeat(12)}${'A'.repeat(20)}`
    for (const action of ['reroll', 'without'] as const) {
      const id = buttonId(action, job)
      expect(new TextEncoder().encode(id).length).toBeLessThanOrEqual(MAX_BUTTON_ID_BYTES)
      expect(parseButtonId(id)).toEqual({ action, job })
    }
    expect(buttonId('reroll', job)).toBe(`r:${job}`)
    for (const forged of ['', 'x:job_1', 'r:', 'r:job 1', 'r:../../x', `r:${'a'.repeat(61)}`]) expect(parseButtonId(forged), forged).toBeNull()
  })
})

describe('link codes', () => {
  it('are 10 Crockford base32 characters, typed in any case, with or without the dash', () => {
    const code = newLinkCode()
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/)
    expect(normalizeLinkCode(code.toLowerCase().replace('-', ''))).toBe(code)
    expect(normalizeLinkCode(' k7q2m 9xd4r ')).toBe('K7Q2M-9XD4R')
    expect(normalizeLinkCode('OOOOO-IIIII')).toBe('00000-11111')
    expect(normalizeLinkCode('short')).toBeNull()
    expect(normalizeLinkCode('UUUUU-UUUUU')).toBeNull()
  })
})

describe('bot settings', () => {
  const key = 'snp_live_BotOperatorTestKey00000000000001c8DJ9V'
  it('turns a platform on only with its secrets and BOT_API_KEY; absent settings are off, not errors', () => {
    expect(botSettings({})).toEqual({ ok: true, settings: null })
    expect(botSettings({ DISCORD_PUBLIC_KEY: 'a'.repeat(64) })).toEqual({ ok: true, settings: null })
    const discord = botSettings({ BOT_API_KEY: key, DISCORD_PUBLIC_KEY: 'A'.repeat(64) })
    expect(discord.ok && discord.settings).toMatchObject({ apiKey: key, installConcurrency: 4, userRate: { count: 5, periodSeconds: 60, burst: 3 }, discord: { publicKey: 'a'.repeat(64), apiBase: 'https://discord.com/api/v10' } })
    expect(discord.ok && discord.settings?.slack).toBeUndefined()
    // Telegram needs both its token and its secret.
    const half = botSettings({ BOT_API_KEY: key, TELEGRAM_BOT_TOKEN: '1:abc' })
    expect(half.ok && half.settings).toBeNull()
    const telegram = botSettings({ BOT_API_KEY: key, TELEGRAM_BOT_TOKEN: '77:abc', TELEGRAM_WEBHOOK_SECRET: 's_1', TELEGRAM_BOT_USERNAME: '@MyBot' })
    expect(telegram.ok && telegram.settings?.telegram).toEqual({ botToken: '77:abc', webhookSecret: 's_1', apiBase: 'https://api.telegram.org', botUsername: 'MyBot', botId: '77' })
    const slack = botSettings({ BOT_API_KEY: key, SLACK_SIGNING_SECRET: 'x', SLACK_API_BASE: 'http://127.0.0.1:9/api/', BOT_USER_RATE: '10/h', BOT_INSTALL_CONCURRENCY: '9' })
    expect(slack.ok && slack.settings).toMatchObject({ userRate: { count: 10, periodSeconds: 3600, burst: 10 }, installConcurrency: 9, slack: { apiBase: 'http://127.0.0.1:9/api', responseUrlPrefix: 'https://hooks.slack.com/' } })
    expect(platformOn({ BOT_API_KEY: key, SLACK_SIGNING_SECRET: 'x' }, 'slack')).toBe(true)
    expect(platformOn({ SLACK_SIGNING_SECRET: 'x' }, 'slack')).toBe(false)
    expect(platformOn({ BOT_API_KEY: key, TELEGRAM_BOT_TOKEN: '1:a' }, 'telegram')).toBe(false)
  })

  it('names every bad setting', () => {
    const bad = botSettings({ BOT_API_KEY: 'sk-nope', DISCORD_PUBLIC_KEY: 'xyz', TELEGRAM_WEBHOOK_SECRET: 'has space', BOT_USER_RATE: 'lots', BOT_INSTALL_CONCURRENCY: '0', DISCORD_API_BASE: 'not a url' })
    expect(bad.ok ? [] : bad.problems.map((p) => p.split(':')[0]).sort()).toEqual(['BOT_API_KEY', 'BOT_INSTALL_CONCURRENCY', 'BOT_USER_RATE', 'DISCORD_API_BASE', 'DISCORD_PUBLIC_KEY', 'TELEGRAM_WEBHOOK_SECRET'])
  })

  it('reads BOT_USER_RATE as a token bucket', () => {
    expect(parseUserRate('5/min, burst 3')).toEqual({ count: 5, periodSeconds: 60, burst: 3 })
    expect(parseUserRate('2 / s')).toEqual({ count: 2, periodSeconds: 1, burst: 2 })
    expect(parseUserRate('30/hour burst=5')).toEqual({ count: 30, periodSeconds: 3600, burst: 5 })
    expect(parseUserRate('0/min')).toBeNull()
    expect(parseUserRate('5 per minute')).toBeNull()
  })
})
