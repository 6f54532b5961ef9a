import { encodeBytes } from './bytes-to-unicode.ts'

/**
 * CLIP's word pattern: the two special tokens, English contractions, runs of letters, single digits,
 * and runs of anything else that is not whitespace. Whitespace separates words and is dropped.
 *
 * Written to match the `regex` module's reading of the canonical pattern (checked for every code
 * point): `\s` is Unicode White_Space (JS's `\s` differs). CLIP compiles it with IGNORECASE, which here
 * (the text is lower-cased already) only lets `s` also match `ſ` (U+017F, long s), spelled out as
 * `[sſ]`; JS's `i` flag cannot be used instead, since with it `[\p{L}]` also matches U+0345 COMBINING
 * GREEK YPOGEGRAMMENI (it case-folds to ι), which `regex` matches with no branch at all, so it is
 * dropped, as here.
 */
const wordPattern =
  /<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}\u0345]+/gu

/** The words of cleaned text, each as its UTF-8 bytes in `bytes_to_unicode` characters, ready for BPE. */
export function preTokenize(cleaned: string): string[] {
  const words: string[] = []
  for (const match of cleaned.matchAll(wordPattern)) words.push(encodeBytes(match[0]))
  return words
}
