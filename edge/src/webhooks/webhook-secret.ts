/**
 * A key's webhook signing secret (Standard Webhooks): `whsec_` + base64 of 24 random bytes; the
 * bytes after the prefix are the HMAC key. Rotating keeps the previous secret signing for 24 h, so
 * receivers can switch over without missing a delivery (both sign, as space-separated `v1,…` entries).
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_'
export const ROTATION_OVERLAP_MS = 24 * 3_600_000

export interface StoredSecret {
  secret: string
  /** Unix seconds. */
  created: number
}

/** As a key account stores it: the current secret and, during a rotation, the previous one. */
export interface WebhookSecrets {
  current: StoredSecret
  previous?: StoredSecret & { expiresAt: number }
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + base64(crypto.getRandomValues(new Uint8Array(24)))
}

/** The state after creating (none yet) or rotating (the current one keeps signing 24 h) at `nowMs`. */
export function rotate(stored: WebhookSecrets | undefined, nowMs: number): WebhookSecrets {
  const current = { secret: newWebhookSecret(), created: Math.floor(nowMs / 1000) }
  return stored ? { current, previous: { ...stored.current, expiresAt: nowMs + ROTATION_OVERLAP_MS } } : { current }
}

/** The secrets that sign a delivery at `nowMs`: the current one, and the previous one within its overlap. */
export function signingSecrets(stored: WebhookSecrets | undefined, nowMs: number): string[] {
  if (!stored) return []
  return stored.previous && stored.previous.expiresAt > nowMs ? [stored.current.secret, stored.previous.secret] : [stored.current.secret]
}
