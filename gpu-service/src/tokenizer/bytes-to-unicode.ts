/**
 * GPT-2's `bytes_to_unicode`: a reversible map from each byte to a printable character, so that BPE
 * can work on strings without whitespace or control characters. Printable Latin-1 bytes map to
 * themselves; the other 68 bytes map to U+0100… in byte order. CLIP's vocabulary starts with these 256
 * characters in this order (bytes kept first, then the remapped ones), so the order is part of the ids.
 */
function build(): { order: number[]; table: string[] } {
  const kept: number[] = []
  for (let b = 0x21; b <= 0x7e; b++) kept.push(b) // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) kept.push(b) // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) kept.push(b) // '®'..'ÿ'
  const order = [...kept]
  const table: string[] = []
  for (const b of kept) table[b] = String.fromCharCode(b)
  let next = 0
  for (let b = 0; b < 256; b++) {
    if (table[b] !== undefined) continue
    order.push(b)
    table[b] = String.fromCharCode(256 + next++)
  }
  return { order, table }
}

const built = build()

/** `byteToUnicode[b]`: the character standing for byte `b` (always a single BMP code unit). */
export const byteToUnicode: readonly string[] = built.table

/** The 256 characters in GPT-2's dict order: the first 256 entries of CLIP's vocabulary. */
export const byteUnicodeOrder: readonly string[] = built.order.map((b) => built.table[b] as string)

const utf8 = new TextEncoder()

/** A piece of text as its UTF-8 bytes, each replaced by its `bytes_to_unicode` character. */
export function encodeBytes(text: string): string {
  let out = ''
  for (const byte of utf8.encode(text)) out += byteToUnicode[byte] as string
  return out
}
