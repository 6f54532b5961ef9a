import { byteUnicodeOrder } from './bytes-to-unicode.ts'
import { endToken, startToken } from './special-tokens.ts'

/** One BPE merge: two adjacent symbols that become one; its rank is its position in the list. */
export type Merge = readonly [string, string]

/**
 * How many merges CLIP keeps of the shipped file's 262,144: its formula 49152 − 256 − 2 = 48,894, kept
 * as written. With the 512 byte tokens and the 2 special tokens that is a 49,408-token vocabulary.
 */
export const clipMergeCount = 49152 - 256 - 2

/**
 * The merges in a merge file's lines, the way CLIP (and Hugging Face's CLIPTokenizer) read them: the
 * first line is a `#version` header, then at most `clipMergeCount` lines of "a b". `source` names the
 * file in errors. A missing header is an error rather than a silently lost first merge.
 */
export function parseMergeLines(lines: readonly string[], source: string): Merge[] {
  const header = lines[0]
  if (header === undefined || !header.includes('#version')) {
    throw new Error(`${source}: expected a "#version" header on the first line, found ${JSON.stringify(header ?? '')}`)
  }
  let end = Math.min(lines.length, clipMergeCount + 1)
  while (end > 1 && (lines[end - 1] ?? '').trim() === '') end-- // a file's trailing newline
  const merges: Merge[] = []
  for (let i = 1; i < end; i++) {
    const line = (lines[i] as string).trim()
    const space = line.indexOf(' ')
    if (space <= 0 || space === line.length - 1 || line.includes(' ', space + 1)) {
      throw new Error(`${source}: line ${i + 1} is not a merge "a b": ${JSON.stringify(lines[i])}`)
    }
    merges.push([line.slice(0, space), line.slice(space + 1)])
  }
  if (merges.length === 0) throw new Error(`${source}: no merges after the header`)
  return merges
}

/**
 * CLIP's vocabulary, id = position: the 256 byte characters, the same with `</w>` (end of word), each
 * merge's result, then `<|startoftext|>` and `<|endoftext|>` (49,408 tokens for the full list).
 */
export function canonicalVocab(merges: readonly Merge[]): string[] {
  return [
    ...byteUnicodeOrder,
    ...byteUnicodeOrder.map((c) => `${c}</w>`),
    ...merges.map(([a, b]) => a + b),
    startToken,
    endToken,
  ]
}
