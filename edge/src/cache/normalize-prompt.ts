/** One run of Unicode White_Space (the property, not JS's `\s`, which adds U+FEFF and lacks U+0085). */
const whitespaceRun = /\p{White_Space}+/gu
const edgeSpace = /^ | $/g

/**
 * The prompt policy of the cache key: Unicode NFC, every run of Unicode White_Space (spaces, tabs,
 * newlines, NBSP, ideographic space, U+0085 …) becomes one ASCII space, and the ends are trimmed.
 * Nothing else changes: case is kept, and so are punctuation, HTML entities and invisible format
 * characters. Case is kept on purpose although CLIP lower-cases: lower-casing is the tokenizer's
 * business, not every model's (a case-sensitive text encoder would see a different prompt), JS's
 * `toLowerCase` and Python's `str.lower` disagree on a few characters, and the normalised prompt is
 * what clients get back as `revised_prompt`. A missed merge only costs a cache miss; a wrong merge
 * would serve someone else's image.
 *
 * @example normalizePrompt('  cafe\u0301\n\tau  lait ') // 'café au lait' (NFC)
 */
export function normalizePrompt(text: string): string {
  // Not String#trim: it would also strip U+FEFF, which is not White_Space.
  return text.normalize('NFC').replace(whitespaceRun, ' ').replace(edgeSpace, '')
}
