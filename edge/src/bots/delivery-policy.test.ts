// The retry rules as pure functions, and Discord's client against a MOCK Discord (intercepted fetch).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fakePlatforms } from '../testing/bot-platforms.ts'
import { backoffSeconds, MAX_RETRY_DELAY_SECONDS, networkVerdict, parseRetryAfter, rateLimitDelay, verdictFor } from './delivery-policy.ts'
import { deliverDiscord, INTERACTION_TOKEN_MS } from './discord/discord-api.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('delivery policy', () => {
  it('reads Retry-After as seconds (fractions too) or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2)
    expect(parseRetryAfter('1.25')).toBe(1.25)
    expect(parseRetryAfter(new Date(10_000 + 30_000).toUTCString(), 10_000)).toBe(30)
    expect(parseRetryAfter(null)).toBeNull()
    expect(parseRetryAfter('soon')).toBeNull()
  })

  it('retries 429 after its wait (rounded up, at least 1 s, capped), 5xx and network errors with a jittered exponential backoff', () => {
    expect(verdictFor({ status: 204, retryAfterSeconds: null }, 1)).toEqual({ kind: 'delivered' })
    expect(verdictFor({ status: 429, retryAfterSeconds: 1.2 }, 1)).toEqual({ kind: 'retry', delaySeconds: 2, reason: 'rate limited (429)' })
    expect(verdictFor({ status: 429, retryAfterSeconds: 0 }, 1)).toMatchObject({ delaySeconds: 1 })
    expect(verdictFor({ status: 429, retryAfterSeconds: 3600 }, 1)).toMatchObject({ delaySeconds: MAX_RETRY_DELAY_SECONDS })
    expect(rateLimitDelay(null, 3)).toBeGreaterThanOrEqual(4)
    expect(verdictFor({ status: 503, retryAfterSeconds: null }, 1)).toMatchObject({ kind: 'retry' })
    expect(verdictFor({ status: 404, retryAfterSeconds: null }, 1, [401, 404])).toMatchObject({ kind: 'gone' })
    expect(verdictFor({ status: 400, retryAfterSeconds: null }, 1, [401, 404])).toMatchObject({ kind: 'failed' })
    expect(networkVerdict(new TypeError('connection reset'), 2)).toMatchObject({ kind: 'retry', reason: 'network error: connection reset' })
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 0))).toEqual([1, 2, 4, 8])
    expect(backoffSeconds(4, 0.99)).toBe(10)
    expect(backoffSeconds(30, 0.5)).toBe(MAX_RETRY_DELAY_SECONDS)
  })
})

describe('deliverDiscord (a MOCK Discord behind fetch)', () => {
  const message = { content: 'x' }
  const target = { applicationId: '1', token: 'tok', issuedAt: Date.now(), channelId: '42', guildId: '7' }

  it("edits the token's @original while it lives, and once it is 15 minutes old goes straight to the bot token's channel message", async () => {
    const platforms = fakePlatforms()
    const api = { apiBase: 'http://discord.test/api/v10', botToken: 'bt' }
    expect(await deliverDiscord(api, target, message, 1, target.issuedAt + 1000)).toEqual({ verdict: { kind: 'delivered' }, via: 'original' })
    expect(await deliverDiscord(api, target, message, 1, target.issuedAt + INTERACTION_TOKEN_MS)).toEqual({ verdict: { kind: 'delivered' }, via: 'channel' })
    expect(platforms.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['PATCH /api/v10/webhooks/1/tok/messages/@original', 'POST /api/v10/channels/42/messages'])
    // Without a bot token (or a guild channel) an expired token has nowhere to go: gone (dead-lettered by the consumer).
    expect((await deliverDiscord({ apiBase: api.apiBase }, target, message, 1, target.issuedAt + INTERACTION_TOKEN_MS)).verdict.kind).toBe('gone')
    expect(platforms.calls).toHaveLength(2)
  })

  it('treats 401 from the webhook as the token gone, and a refused fallback as failed', async () => {
    fakePlatforms({ behave: (call) => (call.method === 'PATCH' ? Response.json({ code: 50027, message: 'Invalid Webhook Token' }, { status: 401 }) : Response.json({ code: 50001, message: 'Missing Access' }, { status: 403 })) })
    const result = await deliverDiscord({ apiBase: 'http://discord.test/api/v10', botToken: 'bt' }, target, message, 1, Date.now())
    expect(result).toMatchObject({ verdict: { kind: 'failed', reason: 'refused (403)' }, via: 'channel' })
  })
})
