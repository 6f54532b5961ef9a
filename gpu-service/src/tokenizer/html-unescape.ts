import { legacyEntities, namedEntities } from './html-entities.ts'

/**
 * Python's `html.unescape` (CLIP's `basic_clean` runs it twice), rule for rule, so ids match the
 * canonical tokenizer: numeric references `&#NN;` / `&#xNN;` with HTML5's repairs (the `;` is
 * optional; 0x80–0x9F read as Windows-1252, NUL, surrogates and > U+10FFFF become U+FFFD, and
 * non-characters and most C0/C1 controls are dropped); named references from `html-entities.ts`
 * (HTML 4.01's 252 names plus `apos`), the legacy ones also without `;` and as a prefix
 * (`&ampx` → `&x`). Anything else is left as written.
 */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(charref, (_match, body: string) => replaceCharref(body))
}

/** Python's `_charref`: a number, a hex number, or up to 32 name characters, each with an optional `;`. */
const charref = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu

/** Windows-1252 meanings HTML5 gives to the C1 range, plus NUL and CR (Python's `_invalid_charrefs`). */
const invalidCharrefs: ReadonlyMap<number, string> = new Map([
  [0x00, '\ufffd'], [0x0d, '\r'], [0x80, '\u20ac'], [0x81, '\x81'], [0x82, '\u201a'], [0x83, '\u0192'],
  [0x84, '\u201e'], [0x85, '\u2026'], [0x86, '\u2020'], [0x87, '\u2021'], [0x88, '\u02c6'], [0x89, '\u2030'],
  [0x8a, '\u0160'], [0x8b, '\u2039'], [0x8c, '\u0152'], [0x8d, '\x8d'], [0x8e, '\u017d'], [0x8f, '\x8f'],
  [0x90, '\x90'], [0x91, '\u2018'], [0x92, '\u2019'], [0x93, '\u201c'], [0x94, '\u201d'], [0x95, '\u2022'],
  [0x96, '\u2013'], [0x97, '\u2014'], [0x98, '\u02dc'], [0x99, '\u2122'], [0x9a, '\u0161'], [0x9b, '\u203a'],
  [0x9c, '\u0153'], [0x9d, '\x9d'], [0x9e, '\u017e'], [0x9f, '\u0178'],
])

/** Code points a numeric reference may not produce (Python's `_invalid_codepoints`): dropped. */
function isInvalidCodepoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF of every plane
  )
}

function replaceCharref(body: string): string {
  if (body.startsWith('#')) {
    const hex = body[1] === 'x' || body[1] === 'X'
    const digits = body.slice(hex ? 2 : 1).replace(/;$/, '')
    // Number() keeps precision far past U+10FFFF; longer digit strings only need to read as "too big".
    const cp = hex ? Number.parseInt(digits, 16) : Number(digits)
    const repaired = invalidCharrefs.get(cp)
    if (repaired !== undefined) return repaired
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd'
    if (isInvalidCodepoint(cp)) return ''
    return String.fromCodePoint(cp)
  }
  const whole = lookupName(body)
  if (whole !== undefined) return whole
  // The longest legacy name the reference starts with (at least 2 characters), the rest kept as text.
  for (let end = body.length - 1; end > 1; end--) {
    const prefix = lookupName(body.slice(0, end))
    if (prefix !== undefined) return prefix + body.slice(end)
  }
  return `&${body}`
}

/** A name as Python's `html5` table keys it: `name;` for every entity, bare `name` for legacy ones only. */
function lookupName(key: string): string | undefined {
  const terminated = key.endsWith(';')
  const name = terminated ? key.slice(0, -1) : key
  if (!terminated && !legacyEntities.has(name)) return undefined
  if (!Object.hasOwn(namedEntities, name)) return undefined
  return String.fromCodePoint(namedEntities[name] as number)
}
