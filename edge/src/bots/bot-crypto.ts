/** Small crypto helpers the three platforms' verifiers share (WebCrypto only: workerd and Node alike); hex is the contract's (`@snoopi/gpu-service/contract/hex`). */
const encoder = new TextEncoder()

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
