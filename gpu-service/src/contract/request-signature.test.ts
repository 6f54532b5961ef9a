import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  NONCE_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  checkSignatureHeaders,
  newNonce,
  signRequest,
  signedString,
  verifyRequest,
} from './request-signature.ts'

const secret = 'a'.repeat(64)
const now = Date.UTC(2026, 10, 27, 12, 0, 0)
const ts = Math.floor(now / 1000)
const nonce = '0123456789abcdef0123456789abcdef'
const part = { method: 'POST', path: '/internal/generate', body: '{"prompt":"a red circle"}' }

async function verify(overrides: Partial<Parameters<typeof verifyRequest>[0]> = {}) {
  const headers = await signRequest({ ...part, secret, now, nonce })
  return verifyRequest({
    ...part,
    secret,
    now,
    signature: headers[SIGNATURE_HEADER],
    timestamp: headers[TIMESTAMP_HEADER],
    nonce: headers[NONCE_HEADER],
    ...overrides,
  })
}

describe('request signature', () => {
  it('signs METHOD, PATH, TIMESTAMP, NONCE and the body hash: matches an independent HMAC computed with node:crypto', async () => {
    const headers = await signRequest({ ...part, secret, now, nonce })
    const bodyHash = createHash('sha256').update(part.body).digest('hex')
    const string = `POST\n/internal/generate\n${ts}\n${nonce}\n${bodyHash}`
    const expected = createHmac('sha256', secret).update(string).digest('hex')
    expect(headers).toEqual({ [TIMESTAMP_HEADER]: String(ts), [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: `v2=${expected}` })
    expect(await signedString(part, ts, nonce)).toBe(string)
  })

  it('attaches a fresh 128-bit nonce to every signature', async () => {
    const a = await signRequest({ ...part, secret, now })
    const b = await signRequest({ ...part, secret, now })
    expect(a[NONCE_HEADER]).toMatch(/^[0-9a-f]{32}$/)
    expect(b[NONCE_HEADER]).not.toBe(a[NONCE_HEADER])
    expect(a[SIGNATURE_HEADER]).not.toBe(b[SIGNATURE_HEADER])
    expect(new Set(Array.from({ length: 1000 }, newNonce)).size).toBe(1000)
  })

  it('accepts its own signature and reports the timestamp and nonce', async () => {
    expect(await verify()).toEqual({ ok: true, timestamp: ts, nonce })
  })

  it('treats a missing body as the empty body', async () => {
    const headers = await signRequest({ method: 'GET', path: '/internal/models', secret, now })
    const verdict = await verifyRequest({
      method: 'GET',
      path: '/internal/models',
      body: new Uint8Array(0),
      secret,
      now,
      signature: headers[SIGNATURE_HEADER],
      timestamp: headers[TIMESTAMP_HEADER],
      nonce: headers[NONCE_HEADER],
    })
    expect(verdict.ok).toBe(true)
  })

  it.each([
    ['another body', { body: '{"prompt":"a blue circle"}' }, 'signature mismatch'],
    ['another path', { path: '/internal/models' }, 'signature mismatch'],
    ['another method', { method: 'PUT' }, 'signature mismatch'],
    ['another secret', { secret: 'b'.repeat(64) }, 'signature mismatch'],
    ['another nonce (the nonce is signed)', { nonce: 'f'.repeat(32) }, 'signature mismatch'],
    ['a stale timestamp', { now: now + 301_000 }, 'timestamp older than the 300s window'],
    ['a timestamp 31 s in the future', { now: now - 31_000 }, 'timestamp more than 30s in the future'],
    ['a future timestamp inside the old ±5 min window', { now: now - 299_000 }, 'timestamp more than 30s in the future'],
    ['no signature', { signature: null }, 'missing signature headers'],
    ['no timestamp', { timestamp: undefined }, 'missing signature headers'],
    ['no nonce', { nonce: null }, 'missing signature headers'],
    ['a non-numeric timestamp', { timestamp: '12e3' }, 'malformed timestamp'],
    ['a short nonce', { nonce: 'abcd' }, 'malformed nonce'],
    ['an upper-case nonce', { nonce: 'A'.repeat(32) }, 'malformed nonce'],
    ['a v1 signature (no nonce)', { signature: `v1=${'00'.repeat(32)}` }, 'unsupported signature version'],
    ['a short MAC', { signature: 'v2=abcd' }, 'malformed signature'],
    ['a non-hex MAC', { signature: `v2=${'zz'.repeat(32)}` }, 'malformed signature'],
  ])('rejects %s', async (_name, overrides, reason) => {
    expect(await verify(overrides)).toEqual({ ok: false, reason })
  })

  it('accepts a timestamp at either end of its life: 300 s old, 30 s ahead', async () => {
    expect((await verify({ now: now + 300_000 })).ok).toBe(true)
    expect((await verify({ now: now - 30_000 })).ok).toBe(true)
  })

  it('takes the window and the future skew as options', async () => {
    expect(await verify({ now: now + 61_000, windowSeconds: 60 })).toEqual({ ok: false, reason: 'timestamp older than the 60s window' })
    expect(await verify({ now: now - 6_000, futureSkewSeconds: 5 })).toEqual({ ok: false, reason: 'timestamp more than 5s in the future' })
  })

  it('checks the headers without the body or the secret', () => {
    const checked = checkSignatureHeaders({ signature: `v2=${'ab'.repeat(32)}`, timestamp: String(ts), nonce, now })
    expect(checked).toMatchObject({ ok: true, timestamp: ts, nonce })
    expect(checkSignatureHeaders({ signature: `v2=${'ab'.repeat(32)}`, timestamp: String(ts - 400), nonce, now })).toEqual({
      ok: false,
      reason: 'timestamp older than the 300s window',
    })
  })
})
