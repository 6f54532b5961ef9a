import { DurableObject } from 'cloudflare:workers'

/** How long a link code lives. */
export const LINK_CODE_TTL_MS = 10 * 60_000

// Crockford's base32: no I, L, O or U, so a code read aloud or retyped from a phone survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const CODE_LENGTH = 10

/**
 * A new one-time code: 10 Crockford base32 characters (50 bits), shown as `XXXXX-XXXXX`. 50 bits
 * over a 10-minute life leave guessing hopeless at any rate a chat platform lets through.
 */
export function newLinkCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(CODE_LENGTH))
  let code = ''
  for (const byte of bytes) code += ALPHABET[byte & 31]
  return `${code.slice(0, 5)}-${code.slice(5)}`
}

/** A code as typed (any case, with or without the dash or spaces; O read as 0, I and L as 1) in its canonical form; null when it cannot be one. */
export function normalizeLinkCode(text: string): string | null {
  const cleaned = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
  if (cleaned.length !== CODE_LENGTH || [...cleaned].some((c) => !ALPHABET.includes(c))) return null
  return `${cleaned.slice(0, 5)}-${cleaned.slice(5)}`
}

/** What a code stands for: the key that asked for it. */
export interface LinkCodeRecord {
  account: string
  keyId: string
  /** Epoch ms. */
  expiresAt: number
}

export type Redemption = { ok: true; record: LinkCodeRecord } | { ok: false; reason: 'unknown' | 'expired' | 'used' }

const RECORD = 'record'
const REDEEMED = 'redeemed'

/**
 * One per link code (`BOT_LINK_CODES.idFromName(code)`). `redeem` succeeds once, before the expiry;
 * the object forgets everything a day after the code expires (an alarm).
 */
export class BotLinkCode extends DurableObject {
  clock: () => number = () => Date.now()

  /** Stores the code's record; false when this code was already issued (a 2^-50 collision: draw another). */
  async issue(record: LinkCodeRecord): Promise<boolean> {
    const { kv } = this.ctx.storage
    if (kv.get(RECORD) !== undefined) return false
    kv.put(RECORD, record)
    await this.ctx.storage.setAlarm(record.expiresAt + 24 * 3_600_000)
    return true
  }

  redeem(by: string): Redemption {
    const { kv } = this.ctx.storage
    const record = kv.get<LinkCodeRecord>(RECORD)
    if (!record) return { ok: false, reason: 'unknown' }
    if (kv.get(REDEEMED) !== undefined) return { ok: false, reason: 'used' }
    if (this.clock() >= record.expiresAt) return { ok: false, reason: 'expired' }
    kv.put(REDEEMED, { by, at: this.clock() })
    return { ok: true, record }
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll()
  }
}
