import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { clipMergeCount, parseMergeLines, type Merge } from './merge-list.ts'

/**
 * CLIP's merge list as OpenAI ships it (MIT, `assets/clip/LICENSE`), carried in the package so the
 * model builder and the container need nothing outside the repository. A test checks that it is
 * byte-identical to the shared reference copy.
 */
export const defaultMergesGzPath = fileURLToPath(new URL('../../assets/clip/bpe_simple_vocab_16e6.txt.gz', import.meta.url))

/** The merges CLIP uses from a gzipped merge list (`bpe_simple_vocab_16e6.txt.gz`). */
export function readMergesGz(path: string): Merge[] {
  let text: string
  try {
    text = gunzipSync(readFileSync(path)).toString('utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new Error(`${path}: cannot read the gzipped CLIP merge list (${reason})`, { cause: error })
  }
  return parseMergeLines(firstLines(text, clipMergeCount + 1), path)
}

/** The first `count` lines: the file holds 262,145, CLIP reads 48,895, and splitting the rest is waste. */
function firstLines(text: string, count: number): string[] {
  let end = -1
  for (let n = 0; n < count; n++) {
    end = text.indexOf('\n', end + 1)
    if (end < 0) return text.split('\n')
  }
  return text.slice(0, end).split('\n')
}
