import { listDurableObjectIds } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { accountStub } from '../../accounts/account-stub.ts'
import { bearer, bindings, countingEnv, provisionKey, testApp } from '../../testing/key-accounts.ts'
import { API_KEY_PREFIX, generateApiKey, keyHash } from '../../keys/api-key.ts'
import { revokeKey } from '../../keys/key-registry.ts'
import { apiKeyAuth, requireScope } from './index.ts'

const app = testApp((routes) => {
  routes.get('/whoami', apiKeyAuth(), (c) => {
    const { keyId, owner, plan, scopes } = c.get('account')
    return c.json({ keyId, owner, plan, scopes })
  })
  routes.get('/generate', apiKeyAuth(), requireScope('images:generate'), (c) => c.json({ ok: true }))
})

async function call(headers: Record<string, string>, target = bindings, path = '/whoami'): Promise<Response> {
  return app.fetch(new Request(`https://api.test${path}`, { headers }), target)
}

/** Whether a Durable Object exists for `text` as a key (i.e. the middleware asked it). */
async function objectExistsFor(text: string): Promise<boolean> {
  const id = env.KEY_ACCOUNTS.idFromName(await keyHash(text)).toString()
  return (await listDurableObjectIds(env.KEY_ACCOUNTS)).some((existing) => existing.toString() === id)
}

async function expectInvalidKey(response: Response): Promise<void> {
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toBe('Bearer realm="snoopi", error="invalid_token"')
  const body = await response.json<{ error: { type: string; code: string; message: string } }>()
  expect(body.error.type).toBe('authentication_error')
  expect(body.error.code).toBe('invalid_api_key')
}

describe('apiKeyAuth', () => {
  it('refuses a missing or malformed key with 401 and never touches storage', async () => {
    const valid = await generateApiKey()
    const malformed: Record<string, string>[] = [
      {}, // no header
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
      bearer('sk-proj-abcdef'),
      bearer(valid.slice(0, -1)),
      bearer(valid.slice(0, -1) + (valid.endsWith('A') ? 'B' : 'A')), // checksum
      bearer(valid.replace('snp_live_', 'snp_test_')),
      { authorization: `Bearer ${valid} extra` },
    ]
    for (const headers of malformed) {
      const counted = countingEnv()
      await expectInvalidKey(await call(headers, counted.env))
      expect(counted.storageAccesses()).toBe(0)
    }
    // And no Durable Object was created for any of them.
    for (const headers of malformed) {
      const token = headers.authorization?.replace(/^Bearer\s+/i, '')
      if (token) expect(await objectExistsFor(token)).toBe(false)
    }
    const missing = await (await call({})).json<{ error: { message: string } }>()
    expect(missing.error.message).toMatch(/didn't provide an API key/)
  })

  it('asks the Durable Object about a well-formed unknown key (the control of the test above) and refuses it', async () => {
    const unknown = await generateApiKey()
    const counted = countingEnv()
    await expectInvalidKey(await call(bearer(unknown), counted.env))
    expect(counted.storageAccesses()).toBeGreaterThan(0)
    expect(await objectExistsFor(unknown)).toBe(true)
  })

  it('lets a real key through with its account, scheme case-insensitive', async () => {
    const issued = await provisionKey('free', ['usage:read'], 'acme')
    for (const headers of [bearer(issued.key), { authorization: `bearer   ${issued.key}` }]) {
      const response = await call(headers)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ keyId: issued.id, owner: 'acme', plan: 'free', scopes: ['usage:read'] })
    }
  })

  it('refuses a revoked key on the very next request', async () => {
    const issued = await provisionKey()
    expect((await call(bearer(issued.key))).status).toBe(200)
    await revokeKey(bindings, issued.id)
    await expectInvalidKey(await call(bearer(issued.key)))
  })

  it('requireScope: 403 insufficient_scope without the scope, through with it', async () => {
    const readOnly = await provisionKey('test', ['usage:read'])
    const response = await call(bearer(readOnly.key), bindings, '/generate')
    expect(response.status).toBe(403)
    expect((await response.json<{ error: { code: string } }>()).error.code).toBe('insufficient_scope')
    const full = await provisionKey('test', ['images:generate'])
    expect((await call(bearer(full.key), bindings, '/generate')).status).toBe(200)
  })

  it('never answers 5xx to any Authorization header, and touches storage only for well-formed keys (property)', async () => {
    const real = await generateApiKey()
    const candidates = fc.oneof(
      fc.string({ maxLength: 80 }),
      // Every ASCII character, controls included (non-ASCII header values only make workerd warn).
      fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((code) => String.fromCharCode(code)), maxLength: 80 }),
      fc.stringMatching(/^[0-9A-Za-z]{30,45}$/).map((tail) => API_KEY_PREFIX + tail),
      fc.tuple(fc.integer({ min: 0, max: real.length - 1 }), fc.string({ minLength: 1, maxLength: 2 })).map(([i, s]) => real.slice(0, i) + s + real.slice(i + 1)),
      fc.constant(real),
    )
    let client = 0
    await fc.assert(
      fc.asyncProperty(candidates, fc.constantFrom('Bearer ', 'bearer ', 'Token ', ''), async (candidate, scheme) => {
        let request: Request
        // A new client address each time: one address's unknown-key budget is its own test.
        const ip = `192.0.2.${client++ % 250}`
        try {
          request = new Request('https://api.test/whoami', { headers: { authorization: scheme + candidate, 'cf-connecting-ip': ip } })
        } catch {
          return // not a valid header value at all: no request can carry it
        }
        const counted = countingEnv()
        const response = await app.fetch(request, counted.env)
        expect(response.status).toBe(401)
        const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get('authorization') ?? '')?.[1]
        const wellFormed = token !== undefined && token === real
        expect(counted.storageAccesses() > 0).toBe(wellFormed)
      }),
      { numRuns: 300 },
    )
  })

  it('leaves no trace in a Durable Object for an unknown key (authenticate only reads)', async () => {
    const unknown = await generateApiKey()
    await call(bearer(unknown))
    expect(await accountStub(env, await keyHash(unknown)).usage()).toBeNull()
  })
})
