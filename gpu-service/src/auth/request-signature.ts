/**
 * The edge → GPU request signature (DESIGN.md, "Edge → GPU").
 *
 * The signed string is `METHOD \n PATH \n TIMESTAMP \n hex(SHA-256(body))`, the MAC is HMAC-SHA256
 * with the shared secret, sent as `x-snoopi-signature: v1=<hex>` beside `x-snoopi-timestamp`
 * (Unix seconds). The GPU service rejects timestamps outside ±`windowSeconds` (default 300).
 *
 * Only WebCrypto is used, so the same module runs in workerd (the signer) and Node (the verifier):
 * one implementation of the contract, imported by both tiers.
 *
 * @example
 * const headers = await signRequest({ secret, method: 'POST', path: '/internal/generate', body })
 * const verdict = await verifyRequest({ secret, method, path, body, ...headersOf(request) })
 */

export const SIGNATURE_HEADER = 'x-snoopi-signature'
export const TIMESTAMP_HEADER = 'x-snoopi-timestamp'
export const SIGNATURE_VERSION = 'v1'
/** Shortest secret either tier accepts: 32 bytes of entropy written as hex. */
export const MIN_SECRET_LENGTH = 32

export interface SignedPart {
  method: string
  /** Path and query string exactly as sent, e.g. `/internal/models`. */
  path: string
  body?: Uint8Array | string
}

export type Verdict = { ok: true } | { ok: false; reason: string }

const encoder = new TextEncoder()

function toBytes(body: Uint8Array | string | undefined): Uint8Array<ArrayBuffer> {
  const view = typeof body === 'string' ? encoder.encode(body) : (body ?? new Uint8Array(0))
  // A copy on a plain ArrayBuffer: WebCrypto does not accept views on shared memory.
  const copy = new Uint8Array(view.byteLength)
  copy.set(view)
  return copy
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ])
}

/** The exact bytes the MAC covers. Exported for tests and for debugging a mismatch. */
export async function signedString(part: SignedPart, timestamp: number): Promise<string> {
  const bodyHash = toHex(await crypto.subtle.digest('SHA-256', toBytes(part.body)))
  return `${part.method.toUpperCase()}\n${part.path}\n${timestamp}\n${bodyHash}`
}

/** Headers to attach to a request to the GPU service. `now` is in milliseconds (default `Date.now()`). */
export async function signRequest(
  part: SignedPart & { secret: string; now?: number },
): Promise<Record<typeof SIGNATURE_HEADER | typeof TIMESTAMP_HEADER, string>> {
  const timestamp = Math.floor((part.now ?? Date.now()) / 1000)
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(part.secret), encoder.encode(await signedString(part, timestamp)))
  return { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: `${SIGNATURE_VERSION}=${toHex(mac)}` }
}

/**
 * Checks a request's signature headers. Never throws on bad input; the reason says what was wrong
 * (for logs: callers should not echo it to unauthenticated clients in detail).
 */
export async function verifyRequest(
  part: SignedPart & {
    secret: string
    signature: string | null | undefined
    timestamp: string | null | undefined
    windowSeconds?: number
    now?: number
  },
): Promise<Verdict> {
  const windowSeconds = part.windowSeconds ?? 300
  if (!part.signature || !part.timestamp) return { ok: false, reason: 'missing signature headers' }
  if (!/^\d{1,12}$/.test(part.timestamp)) return { ok: false, reason: 'malformed timestamp' }
  const timestamp = Number(part.timestamp)
  const skew = Math.abs(Math.floor((part.now ?? Date.now()) / 1000) - timestamp)
  if (skew > windowSeconds) return { ok: false, reason: `timestamp outside the ±${windowSeconds}s window` }
  const [version, hex] = part.signature.split('=', 2)
  if (version !== SIGNATURE_VERSION || hex === undefined) return { ok: false, reason: 'unsupported signature version' }
  const mac = fromHex(hex)
  if (!mac || mac.length !== 32) return { ok: false, reason: 'malformed signature' }
  // subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify(
    'HMAC',
    await hmacKey(part.secret),
    mac,
    encoder.encode(await signedString(part, timestamp)),
  )
  return valid ? { ok: true } : { ok: false, reason: 'signature mismatch' }
}
