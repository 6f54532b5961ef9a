import { htmlUnescape } from './html-unescape.ts'

/**
 * CLIP's text clean-up (`basic_clean`, `whitespace_clean`, then `.lower()`), in its order.
 *
 * Not done: `ftfy.fix_text`, which the canonical tokenizer runs first. ftfy repairs mojibake and also
 * rewrites some well-formed text: curly quotes become straight (’ → '), full-width forms half-width,
 * ligatures are split (ﬁ → fi), terminal escapes and most control characters are removed, and the
 * result is NFC. Text that ftfy leaves unchanged (plain, NFC, no curly quotes or full-width forms)
 * tokenises exactly as canonical CLIP; other text may differ where ftfy would have changed it.
 */
export function cleanText(text: string): string {
  const unescaped = pythonStrip(htmlUnescape(htmlUnescape(text)))
  return pythonStrip(unescaped.replace(whitespaceRun, ' ')).toLowerCase()
}

/** The `regex` module's `\s` (Unicode White_Space); JS's `\s` differs (it has U+FEFF, lacks U+0085). */
const whitespaceRun = /\p{White_Space}+/gu

/** Python's `str.isspace()`: White_Space plus the separators U+001C–U+001F (all in the BMP). */
function isPythonSpace(char: string): boolean {
  const code = char.charCodeAt(0)
  return (code >= 0x1c && code <= 0x1f) || whitespaceChar.test(char)
}
const whitespaceChar = /^\p{White_Space}$/u

/** Python's `str.strip()`, which (unlike the `\s` collapse) also removes U+001C–U+001F at the ends. */
function pythonStrip(text: string): string {
  let start = 0
  let end = text.length
  while (start < end && isPythonSpace(text.charAt(start))) start++
  while (end > start && isPythonSpace(text.charAt(end - 1))) end--
  return text.slice(start, end)
}
