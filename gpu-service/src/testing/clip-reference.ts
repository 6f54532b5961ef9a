import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The CLIP reference data the tokenizer tests read, all inside the repository: the real merge list the
 * service ships (`assets/clip/`) and reference ids from the canonical tokenizer (`testing/clip/`).
 */
export const mergesGzPath = fileURLToPath(new URL('../../assets/clip/bpe_simple_vocab_16e6.txt.gz', import.meta.url))

/** Reference ids from the canonical tokenizer (no start/end tokens). */
export const referenceCases = (
  JSON.parse(readFileSync(new URL('./clip/tokenizer-cases.json', import.meta.url), 'utf8')) as { cases: { text: string; ids: number[] }[] }
).cases
