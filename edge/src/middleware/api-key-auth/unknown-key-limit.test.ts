import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { generateApiKey } from '../../keys/api-key.ts'
import { bearer, provisionKey } from '../../testing/key-accounts.ts'

const usage = (key: string, ip: string) => exports.default.fetch('https://api.test/v1/usage', { headers: { ...bearer(key), 'cf-connecting-ip': ip } })

/**
 * The binding counts in windows aligned to the wall clock (a new count each minute), so a test whose
 * requests straddle a minute's turn sees the budget restored halfway. It starts in a fresh minute
 * when less than 15 s of this one are left.
 */
async function awayFromTheMinutesTurn(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 250))
}

describe('the unknown-key budget (AUTH_LIMITER, the real rate-limiting binding of wrangler.toml)', () => {
  it('answers 429 before any lookup once one address has spent its budget on forged keys, and spares customers', { timeout: 30_000 }, async () => {
    await awayFromTheMinutesTurn()
    const known = (await provisionKey('pro')).key
    const attacker = '203.0.113.9'
    // A customer on the same address authenticates first: its key is known to the isolate from then on.
    expect((await usage(known, attacker)).status).toBe(200)
    const statuses: number[] = []
    for (let i = 0; i < 32; i++) {
      const response = await usage(await generateApiKey(), attacker)
      statuses.push(response.status)
      await response.arrayBuffer()
    }
    expect(statuses.slice(0, 29).every((s) => s === 401)).toBe(true)
    const refused = await usage(await generateApiKey(), attacker)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('60')
    expect((await refused.json<{ error: { code: string; type: string } }>()).error).toMatchObject({ code: 'too_many_unknown_keys', type: 'rate_limit_error' })
    // The customer's known key and other addresses are unaffected.
    expect((await usage(known, attacker)).status).toBe(200)
    expect((await usage(await generateApiKey(), '198.51.100.7')).status).toBe(401)
  })
})
