/**
 * The one text policy of both tiers (the edge imports it as `@snoopi/gpu-service/contract/normalize-prompt`): the
 * edge hashes the normalised prompt into the cache key and sends it upstream, and the GPU service applies
 * it again to whatever it is sent, so what is cached is exactly what is rendered.
 *
 * 1. Unicode NFC.
 * 2. Default-ignorable code points are removed (`\p{Default_Ignorable_Code_Point}`: U+FEFF, zero-width
 *    space and joiners, soft hyphen, variation selectors, bidi controls, U+180E, tag characters …).
 *    They are invisible, so two prompts that look the same must not be two cache entries, and a prompt
 *    of only U+FEFF must be an empty prompt at the edge (400), not an image the GPU tier refuses.
 * 3. Every run of Unicode White_Space (the property, not JS's `\s`, which adds U+FEFF and lacks U+0085)
 *    becomes one ASCII space, and the ends are trimmed.
 *
 * Nothing else changes: case is kept, and so are punctuation and HTML entities. Case is kept on purpose
 * although CLIP lower-cases: lower-casing is the tokenizer's business, not every model's (a
 * case-sensitive text encoder would see a different prompt), JS's `toLowerCase` and Python's `str.lower`
 * disagree on a few characters, and the normalised prompt is what clients get back as `revised_prompt`.
 * A missed merge only costs a cache miss; a wrong merge would serve someone else's image.
 *
 * @example normalizePrompt('  cafe\u0301\n\tau\ufeff  lait ') // 'café au lait' (NFC)
 */
export function normalizePrompt(text: string): string {
  // Not String#trim: its idea of whitespace is JS's, not White_Space.
  return text.normalize('NFC').replace(ignorable, '').replace(whitespaceRun, ' ').replace(edgeSpace, '')
}

const ignorable = /\p{Default_Ignorable_Code_Point}/gu
const whitespaceRun = /\p{White_Space}+/gu
const edgeSpace = /^ | $/g
