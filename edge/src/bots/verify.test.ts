import { describe, expect, it } from 'vitest'
import { toHex } from '@snoopi/gpu-service/contract/hex'
import { constantTimeEqual } from './bot-crypto.ts'
import { verifyDiscord } from './discord/verify-discord.ts'
import { slackSignature, verifySlack } from './slack/verify-slack.ts'
import { verifyTelegram } from './telegram/verify-telegram.ts'

// Slack's published example ("Verifying requests from Slack"): its signing secret, timestamp, body and signature.
const SLACK_VECTOR = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
}
const AT_VECTOR = 1531420618_000 + 30_000

describe('Slack v0 signatures', () => {
  it("reproduce Slack's published test vector and verify it inside the 5-minute window", async () => {
    expect(await slackSignature(SLACK_VECTOR.secret, SLACK_VECTOR.timestamp, SLACK_VECTOR.body)).toBe(SLACK_VECTOR.signature)
    const base = { signingSecret: SLACK_VECTOR.secret, signature: SLACK_VECTOR.signature, timestamp: SLACK_VECTOR.timestamp, body: SLACK_VECTOR.body, nowMs: AT_VECTOR }
    expect(await verifySlack(base)).toBe(true)
    expect(await verifySlack({ ...base, body: base.body.replace('roadrunner', 'coyote') }), 'tampered body').toBe(false)
    expect(await verifySlack({ ...base, nowMs: 1531420618_000 + 301_000 }), 'stale').toBe(false)
    expect(await verifySlack({ ...base, nowMs: 1531420618_000 - 301_000 }), 'future').toBe(false)
    expect(await verifySlack({ ...base, signature: null }), 'no signature').toBe(false)
    expect(await verifySlack({ ...base, timestamp: undefined }), 'no timestamp').toBe(false)
    expect(await verifySlack({ ...base, signature: 'v1=' + base.signature.slice(3) }), 'other version').toBe(false)
    expect(await verifySlack({ ...base, signature: 'v0=zz' }), 'not hex').toBe(false)
    expect(await verifySlack({ ...base, signingSecret: 'another secret' }), 'other secret').toBe(false)
  })
})

describe('Discord Ed25519 signatures (WebCrypto in workerd)', () => {
  it('verify timestamp + raw body under a key pair generated here, and refuse tampering, staleness and missing headers', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const publicKeyHex = toHex((await crypto.subtle.exportKey('raw', pair.publicKey)) as ArrayBuffer)
    const body = JSON.stringify({ id: '1', type: 1, application_id: '2', token: 't' })
    const now = Date.now()
    const timestamp = String(Math.floor(now / 1000))
    const sign = async (ts: string, text: string) => toHex(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, new TextEncoder().encode(ts + text)))
    const signature = await sign(timestamp, body)
    const base = { publicKeyHex, signature, timestamp, body, nowMs: now }
    expect(await verifyDiscord(base)).toBe(true)
    expect(await verifyDiscord({ ...base, body: body.replace('"type":1', '"type":2') }), 'tampered body').toBe(false)
    expect(await verifyDiscord({ ...base, timestamp: String(Number(timestamp) + 1) }), 'other timestamp').toBe(false)
    const stale = String(Math.floor(now / 1000) - 301)
    expect(await verifyDiscord({ ...base, timestamp: stale, signature: await sign(stale, body) }), 'stale, though signed').toBe(false)
    const future = String(Math.floor(now / 1000) + 301)
    expect(await verifyDiscord({ ...base, timestamp: future, signature: await sign(future, body) }), 'future, though signed').toBe(false)
    expect(await verifyDiscord({ ...base, signature: null }), 'no signature').toBe(false)
    expect(await verifyDiscord({ ...base, timestamp: null }), 'no timestamp').toBe(false)
    expect(await verifyDiscord({ ...base, signature: signature.slice(0, 126) }), 'short').toBe(false)
    const other = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const otherHex = toHex((await crypto.subtle.exportKey('raw', other.publicKey)) as ArrayBuffer)
    expect(await verifyDiscord({ ...base, publicKeyHex: otherHex }), 'another key').toBe(false)
  })
})

describe('Telegram secret token', () => {
  it('must equal the configured secret exactly', () => {
    expect(verifyTelegram('s3cr3t', 's3cr3t')).toBe(true)
    for (const wrong of [null, undefined, '', 's3cr3', 's3cr3tt', 'S3CR3T']) expect(verifyTelegram('s3cr3t', wrong), String(wrong)).toBe(false)
    expect(constantTimeEqual('é', 'é')).toBe(true)
    expect(constantTimeEqual('a', '')).toBe(false)
  })
})
