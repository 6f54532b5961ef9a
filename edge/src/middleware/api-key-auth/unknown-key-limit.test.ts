import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { generateApiKey } from '../../keys/api-key.ts'
import { bearer, provisionKey } from '../../testing/key-accounts.ts'

const usage = (key: string, ip: string) => exports.default.fetch('https://api.test/v1/usage', { headers: { ...bearer(key), 'cf-connecting-ip': ip } })

describe('the unknown-key budget (AUTH_LIMITER, the real rate-limiting binding of wrangler.toml)', () => {
  it('answers 429 before any lookup once one address has spent its budget on forged keys, and spares customers', async () => {
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
