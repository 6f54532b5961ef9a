import { listDurableObjectIds } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { accountStub } from '../accounts/account-stub.ts'
import { ADMIN_TOKEN, bearer, bindings, testApp } from '../testing/key-accounts.ts'
import { apiKeyAuth } from '../middleware/api-key-auth/index.ts'
import { adminKeyRoutes } from './admin-keys.ts'

const app = testApp((routes) => {
  routes.route('/', adminKeyRoutes)
  routes.get('/v1/whoami', apiKeyAuth(), (c) => c.json({ keyId: c.get('account').keyId }))
})

type Listing = { id: string; owner: string; plan: string; scopes: string[]; cache_scope: string; created_at: number; revoked_at: number | null }

async function admin(method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<Response> {
  return app.fetch(
    new Request(`https://api.test${path}`, {
      method,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
    bindings,
  )
}

async function whoami(key: string): Promise<Response> {
  return app.fetch(new Request('https://api.test/v1/whoami', { headers: bearer(key) }), bindings)
}

async function createKey(body: unknown): Promise<Listing & { key: string }> {
  const response = await admin('POST', '/admin/keys', body)
  expect(response.status).toBe(201)
  return response.json<Listing & { key: string }>()
}

async function storageFootprint(): Promise<{ index: number; objects: number }> {
  return { index: (await env.KEY_INDEX.list()).keys.length, objects: (await listDurableObjectIds(env.KEY_ACCOUNTS)).length }
}

describe('admin key routes', () => {
  it('creates a key that works at once, shown only in the creation answer', async () => {
    const created = await createKey({ owner: 'acme-bot' })
    expect(created).toMatchObject({ owner: 'acme-bot', plan: 'free', scopes: ['images:generate', 'usage:read'], cache_scope: 'shared', revoked_at: null })
    expect(created.id).toMatch(/^key_[0-9A-Za-z]{12}$/)
    expect(created.key).toMatch(/^snp_live_[0-9A-Za-z]{38}$/)
    expect(Math.abs(created.created_at - Date.now() / 1000)).toBeLessThan(60)

    const response = await whoami(created.key)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ keyId: created.id })

    // Nothing stored holds the key itself.
    const stored = await env.KEY_INDEX.get(`key:${created.id}`)
    expect(stored).not.toContain(created.key)
  })

  it('lists keys (optionally by owner) without key or hash material', async () => {
    const a = await createKey({ owner: 'lister-a', plan: 'pro', scopes: ['usage:read'] })
    const b = await createKey({ owner: 'lister-b' })
    const all = await admin('GET', '/admin/keys')
    expect(all.status).toBe(200)
    const text = await all.text()
    expect(text).not.toContain(a.key)
    expect(text).not.toContain('hash')
    const list = JSON.parse(text) as { object: string; data: Listing[] }
    expect(list.object).toBe('list')
    expect(list.data.map((k) => k.id)).toEqual(expect.arrayContaining([a.id, b.id]))
    const entry = list.data.find((k) => k.id === a.id)
    expect(entry).toEqual({ id: a.id, owner: 'lister-a', plan: 'pro', scopes: ['usage:read'], cache_scope: 'shared', created_at: a.created_at, revoked_at: null })

    const onlyA = await (await admin('GET', '/admin/keys?owner=lister-a')).json<{ data: Listing[] }>()
    expect(onlyA.data.map((k) => k.id)).toEqual([a.id])
  })

  it('sets a key’s cache scope at creation, shows it in the record and the listing, and reads old entries as shared', async () => {
    const scoped = await createKey({ owner: 'scope-owner', cache_scope: 'private' })
    expect(scoped.cache_scope).toBe('private')
    const listed = await (await admin('GET', '/admin/keys?owner=scope-owner')).json<{ data: Listing[] }>()
    expect(listed.data.map((k) => k.cache_scope)).toEqual(['private'])
    const { hash } = JSON.parse((await env.KEY_INDEX.get(`key:${scoped.id}`)) ?? '{}') as { hash: string }
    expect((await accountStub(env, hash).authenticate())?.cacheScope).toBe('private')

    // An index entry written before cache scopes existed (no cache_scope in its listing).
    const old = await createKey({ owner: 'scope-legacy' })
    const stored = JSON.parse((await env.KEY_INDEX.get(`key:${old.id}`)) ?? '{}') as { hash: string; listing: Record<string, unknown> }
    delete stored.listing.cache_scope
    await env.KEY_INDEX.put(`key:${old.id}`, JSON.stringify(stored), { metadata: stored.listing })
    const legacy = await (await admin('GET', '/admin/keys?owner=scope-legacy')).json<{ data: Listing[] }>()
    expect(legacy.data.map((k) => k.cache_scope)).toEqual(['shared'])
  })

  it('revokes a key: the very next request with it is 401, the listing shows it revoked, repeat is harmless', async () => {
    const created = await createKey({ owner: 'revoker' })
    expect((await whoami(created.key)).status).toBe(200)

    const revoked = await admin('DELETE', `/admin/keys/${created.id}`)
    expect(revoked.status).toBe(200)
    const listing = await revoked.json<Listing>()
    expect(listing).toMatchObject({ id: created.id, owner: 'revoker', revoked_at: expect.any(Number) as number })
    expect(JSON.stringify(listing)).not.toContain(created.key)

    expect((await whoami(created.key)).status).toBe(401)
    const again = await admin('DELETE', `/admin/keys/${created.id}`)
    expect(again.status).toBe(200)
    expect((await again.json<Listing>()).revoked_at).toBe(listing.revoked_at)
    const list = await (await admin('GET', '/admin/keys?owner=revoker')).json<{ data: Listing[] }>()
    expect(list.data[0]?.revoked_at).toBe(listing.revoked_at)
  })

  it('answers 404 for an unknown or malformed id', async () => {
    for (const id of ['key_AAAAAAAAAAAA', 'nope', 'key_AAAAAAAAAAAAA']) {
      const response = await admin('DELETE', `/admin/keys/${id}`)
      expect(response.status).toBe(404)
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('key_not_found')
    }
  })

  it('refuses a wrong, missing or API-key credential with 401, before anything else', async () => {
    const created = await createKey({ owner: 'someone' })
    const before = await storageFootprint()
    for (const token of ['', 'wrong', ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`, created.key]) {
      for (const [method, path] of [
        ['POST', '/admin/keys'],
        ['GET', '/admin/keys'],
        ['DELETE', `/admin/keys/${created.id}`],
      ] as const) {
        const response = await admin(method, path, method === 'POST' ? { owner: 'intruder' } : undefined, token)
        expect(response.status).toBe(401)
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="snoopi-admin"')
        const body = await response.json<{ error: { type: string; code: string } }>()
        expect(body.error).toEqual({ type: 'authentication_error', code: 'invalid_admin_token', message: expect.any(String) as string })
      }
    }
    const noHeader = await app.fetch(new Request('https://api.test/admin/keys'), bindings)
    expect(noHeader.status).toBe(401)
    expect(await storageFootprint()).toEqual(before)
    expect((await whoami(created.key)).status).toBe(200) // not revoked by the attempts
  })

  it('answers 400 to a bad body, before any storage write', async () => {
    await createKey({ owner: 'baseline' })
    const before = await storageFootprint()
    const bad: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      [{}, /owner/],
      [{ owner: '' }, /owner/],
      [{ owner: '   ' }, /owner/],
      [{ owner: 'x'.repeat(129) }, /owner/],
      [{ owner: 'line\nbreak' }, /owner/],
      [{ owner: 'ok', plan: 'platinum' }, /plan/],
      [{ owner: 'ok', scopes: [] }, /scopes/],
      [{ owner: 'ok', scopes: ['admin'] }, /scopes/],
      [{ owner: 'ok', extra: true }, /extra|unrecognized/i],
      [{ owner: 'ok', cache_scope: 'public' }, /cache_scope/],
      [{ owner: 'ok', cache_scope: null }, /cache_scope/],
      [[], /body|expected object/i],
      ['x'.repeat(5000), /at most 4096 bytes/],
    ]
    for (const [body, message] of bad) {
      const response = await admin('POST', '/admin/keys', body)
      expect(response.status, JSON.stringify(body).slice(0, 40)).toBe(400)
      const { error } = await response.json<{ error: { type: string; message: string } }>()
      expect(error.type).toBe('invalid_request_error')
      expect(error.message).toMatch(message)
    }
    const badFilter = await admin('GET', `/admin/keys?owner=${'y'.repeat(200)}`)
    expect(badFilter.status).toBe(400)
    expect(await storageFootprint()).toEqual(before)
  })

  it('fails closed (500 misconfigured, no access) when ADMIN_TOKEN is missing or short', async () => {
    for (const ADMIN_TOKEN_VALUE of [undefined, 'short']) {
      const misconfigured = { ...bindings, ADMIN_TOKEN: ADMIN_TOKEN_VALUE }
      const response = await app.fetch(new Request('https://api.test/admin/keys', { headers: bearer(ADMIN_TOKEN_VALUE ?? '') }), misconfigured)
      expect(response.status).toBe(500)
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe('misconfigured')
    }
  })
})
