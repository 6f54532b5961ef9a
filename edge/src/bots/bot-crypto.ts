/** Small crypto helpers the three platforms' verifiers share (WebCrypto only: workerd and Node alike). */
const encoder = new TextEncoder()

/** Bytes of a hex string; null when it is not hex of an even length. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null
  const bytes = new Uint8Array(hex.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return bytes
}

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * Whether two strings are equal, in time that depends only on their lengths (never on where they
 * differ): for secrets compared as text, such as Telegram's secret header.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a)
  const y = encoder.encode(b)
  let diff = x.length ^ y.length
  for (let i = 0; i < x.length; i++) diff |= (x[i] as number) ^ (y[i % Math.max(1, y.length)] ?? 0)
  return diff === 0
}

/** A freshness window check on a Unix-seconds timestamp header: digits only, within ±`toleranceSeconds`. */
export function freshTimestamp(header: string | null | undefined, nowMs: number, toleranceSeconds: number): boolean {
  if (!header || !/^\d{1,12}$/.test(header)) return false
  return Math.abs(nowMs / 1000 - Number(header)) <= toleranceSeconds
}
