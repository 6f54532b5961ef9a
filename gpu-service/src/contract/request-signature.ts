/**
 * The edge → GPU request signature (gpu-service/README.md, "How the tiers talk").
 *
 * The signed string is `METHOD \n PATH \n TIMESTAMP \n NONCE \n hex(SHA-256(body))`, the MAC is
 * HMAC-SHA256 with the shared secret, sent as `x-snoopi-signature: v2=<hex>` beside
 * `x-snoopi-timestamp` (Unix seconds) and `x-snoopi-nonce` (128 random bits, 32 lowercase hex).
 * A timestamp is accepted from `futureSkewSeconds` (30) ahead of the verifier's clock to
 * `windowSeconds` (300) behind it, so a signature lives at most window + skew; the nonce lets the
 * GPU service refuse a second use of the same signature within that life (auth/replay-guard.ts).
 * `v1` (the same string without the nonce) is no longer accepted: it could be replayed.
 *
 * Only WebCrypto is used, so the same module runs in workerd (the signer) and Node (the verifier):
 * one implementation of the contract, imported by both tiers.
 *
 * @example
 * const headers = await signRequest({ secret, method: 'POST', path: '/internal/generate', body })
 * const verdict = await verifyRequest({ secret, method, path, body, ...headersOf(request) })
 */

import { fromHex, toHex } from './hex.ts'

export const SIGNATURE_HEADER = 'x-snoopi-signature'
export const TIMESTAMP_HEADER = 'x-snoopi-timestamp'
export const NONCE_HEADER = 'x-snoopi-nonce'
export const SIGNATURE_VERSION = 'v2'
/** Shortest secret either tier accepts: 32 bytes of entropy written as hex. */
export const MIN_SECRET_LENGTH = 32
/** How long after its timestamp a signature is accepted, seconds (SIGNATURE_WINDOW_S overrides). */
export const DEFAULT_WINDOW_SECONDS = 300
/** How far ahead of the verifier's clock a timestamp may be: clock skew between the tiers, not more. */
export const DEFAULT_FUTURE_SKEW_SECONDS = 30

const NONCE_PATTERN = /^[0-9a-f]{32}$/

export interface SignedPart {
  method: string
  /** Path and query string exactly as sent, e.g. `/internal/models`. */
  path: string
  body?: Uint8Array | string
}

/** The three signature headers as received (absent ones as null or undefined). */
export interface SignatureHeaders {
  signature: string | null | undefined
  timestamp: string | null | undefined
  nonce: string | null | undefined
}

export interface WindowOptions {
  /** Oldest accepted timestamp, seconds before `now` (default 300). */
  windowSeconds?: number
  /** Newest accepted timestamp, seconds after `now` (default 30). */
  futureSkewSeconds?: number
  /** The verifier's clock, milliseconds (default `Date.now()`). */
  now?: number
}

/** Headers that passed every check that needs no body or secret: what the MAC check and the replay guard need. */
export interface CheckedHeaders {
  timestamp: number
  nonce: string
  mac: Uint8Array<ArrayBuffer>
}

export type HeaderVerdict = ({ ok: true } & CheckedHeaders) | { ok: false; reason: string }
export type Verdict = { ok: true; timestamp: number; nonce: string } | { ok: false; reason: string }

const encoder = new TextEncoder()

function toBytes(body: Uint8Array | string | undefined): Uint8Array<ArrayBuffer> {
  const view = typeof body === 'string' ? encoder.encode(body) : (body ?? new Uint8Array(0))
  // A copy on a plain ArrayBuffer: WebCrypto does not accept views on shared memory.
  const copy = new Uint8Array(view.byteLength)
  copy.set(view)
  return copy
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
}

/** A fresh request nonce: 128 bits from the platform's CSPRNG, as 32 lowercase hex characters. */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)))
}

/** The exact bytes the MAC covers. Exported for tests and for debugging a mismatch. */
export async function signedString(part: SignedPart, timestamp: number, nonce: string): Promise<string> {
  const bodyHash = toHex(await crypto.subtle.digest('SHA-256', toBytes(part.body)))
  return `${part.method.toUpperCase()}\n${part.path}\n${timestamp}\n${nonce}\n${bodyHash}`
}

/**
 * Headers to attach to a request to the GPU service, a new nonce each call (so a retry is a new
 * request). `now` is in milliseconds (default `Date.now()`); `nonce` is for tests only.
 */
export async function signRequest(
  part: SignedPart & { secret: string; now?: number; nonce?: string },
): Promise<Record<typeof SIGNATURE_HEADER | typeof TIMESTAMP_HEADER | typeof NONCE_HEADER, string>> {
  const timestamp = Math.floor((part.now ?? Date.now()) / 1000)
  const nonce = part.nonce ?? newNonce()
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(part.secret), encoder.encode(await signedString(part, timestamp, nonce)))
  return { [TIMESTAMP_HEADER]: String(timestamp), [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: `${SIGNATURE_VERSION}=${toHex(mac)}` }
}

/**
 * Everything that can be checked before the body arrives: the headers are present and well formed
 * and the timestamp is inside [now − window, now + skew]. Cheap and synchronous, so the GPU service
 * runs it before reading a byte of the body.
 */
export function checkSignatureHeaders(headers: SignatureHeaders & WindowOptions): HeaderVerdict {
  const windowSeconds = headers.windowSeconds ?? DEFAULT_WINDOW_SECONDS
  const futureSkewSeconds = headers.futureSkewSeconds ?? DEFAULT_FUTURE_SKEW_SECONDS
  if (!headers.signature || !headers.timestamp || !headers.nonce) return { ok: false, reason: 'missing signature headers' }
  if (!/^\d{1,12}$/.test(headers.timestamp)) return { ok: false, reason: 'malformed timestamp' }
  if (!NONCE_PATTERN.test(headers.nonce)) return { ok: false, reason: 'malformed nonce' }
  const timestamp = Number(headers.timestamp)
  const now = Math.floor((headers.now ?? Date.now()) / 1000)
  if (now - timestamp > windowSeconds) return { ok: false, reason: `timestamp older than the ${windowSeconds}s window` }
  if (timestamp - now > futureSkewSeconds) return { ok: false, reason: `timestamp more than ${futureSkewSeconds}s in the future` }
  const [version, hex] = headers.signature.split('=', 2)
  if (version !== SIGNATURE_VERSION || hex === undefined) return { ok: false, reason: 'unsupported signature version' }
  const mac = fromHex(hex)
  if (!mac || mac.length !== 32) return { ok: false, reason: 'malformed signature' }
  return { ok: true, timestamp, nonce: headers.nonce, mac }
}

/** The MAC check proper, on headers that passed `checkSignatureHeaders`. Constant time (subtle.verify). */
export async function verifyMac(part: SignedPart & { secret: string }, checked: CheckedHeaders): Promise<boolean> {
  return crypto.subtle.verify(
    'HMAC',
    await hmacKey(part.secret),
    checked.mac,
    encoder.encode(await signedString(part, checked.timestamp, checked.nonce)),
  )
}

/**
 * Checks a request's signature headers and MAC. Never throws on bad input; the reason says what was
 * wrong (for logs: callers should not echo it to unauthenticated clients in detail). It does not
 * remember nonces: refusing a replay is the caller's (the GPU service's ReplayGuard).
 */
export async function verifyRequest(part: SignedPart & SignatureHeaders & WindowOptions & { secret: string }): Promise<Verdict> {
  const checked = checkSignatureHeaders(part)
  if (!checked.ok) return checked
  if (!(await verifyMac(part, checked))) return { ok: false, reason: 'signature mismatch' }
  return { ok: true, timestamp: checked.timestamp, nonce: checked.nonce }
}
