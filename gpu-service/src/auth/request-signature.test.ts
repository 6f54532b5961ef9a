import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signRequest, signedString, verifyRequest } from './request-signature.ts'

const secret = 'a'.repeat(64)
const now = Date.UTC(2026, 10, 27, 12, 0, 0)
const part = { method: 'POST', path: '/internal/generate', body: '{"prompt":"a red circle"}' }

async function verify(overrides: Partial<Parameters<typeof verifyRequest>[0]> = {}) {
  const headers = await signRequest({ ...part, secret, now })
  return verifyRequest({
    ...part,
    secret,
    now,
    signature: headers[SIGNATURE_HEADER],
    timestamp: headers[TIMESTAMP_HEADER],
    ...overrides,
  })
}

describe('request signature', () => {
  it('matches an independent HMAC computed with node:crypto', async () => {
    const headers = await signRequest({ ...part, secret, now })
    const ts = Math.floor(now / 1000)
    const bodyHash = createHash('sha256').update(part.body).digest('hex')
    const expected = createHmac('sha256', secret).update(`POST\n/internal/generate\n${ts}\n${bodyHash}`).digest('hex')
    expect(headers[TIMESTAMP_HEADER]).toBe(String(ts))
    expect(headers[SIGNATURE_HEADER]).toBe(`v1=${expected}`)
    expect(await signedString(part, ts)).toBe(`POST\n/internal/generate\n${ts}\n${bodyHash}`)
  })

  it('accepts its own signature', async () => {
    expect(await verify()).toEqual({ ok: true })
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
    })
    expect(verdict).toEqual({ ok: true })
  })

  it.each([
    ['another body', { body: '{"prompt":"a blue circle"}' }, 'signature mismatch'],
    ['another path', { path: '/internal/models' }, 'signature mismatch'],
    ['another method', { method: 'PUT' }, 'signature mismatch'],
    ['another secret', { secret: 'b'.repeat(64) }, 'signature mismatch'],
    ['a stale timestamp', { now: now + 301_000 }, 'timestamp outside the ±300s window'],
    ['a future timestamp', { now: now - 301_000 }, 'timestamp outside the ±300s window'],
    ['no signature', { signature: null }, 'missing signature headers'],
    ['no timestamp', { timestamp: undefined }, 'missing signature headers'],
    ['a non-numeric timestamp', { timestamp: '12e3' }, 'malformed timestamp'],
    ['an unknown version', { signature: 'v2=00' }, 'unsupported signature version'],
    ['a short MAC', { signature: 'v1=abcd' }, 'malformed signature'],
    ['a non-hex MAC', { signature: `v1=${'zz'.repeat(32)}` }, 'malformed signature'],
  ])('rejects %s', async (_name, overrides, reason) => {
    expect(await verify(overrides)).toEqual({ ok: false, reason })
  })

  it('accepts a timestamp at the edge of the window', async () => {
    expect(await verify({ now: now + 300_000 })).toEqual({ ok: true })
  })
})
