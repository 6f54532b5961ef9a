import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The shared CLIP data the tests read, located from this folder (gpu-service/src/tokenizer/). */
export const mergesGzPath = fileURLToPath(new URL('../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz', import.meta.url))

const casesPath = fileURLToPath(new URL('../../../../shared/data/clip/tokenizer-cases.json', import.meta.url))

/** Reference ids from the canonical tokenizer (no start/end tokens). */
export const referenceCases = (JSON.parse(readFileSync(casesPath, 'utf8')) as { cases: { text: string; ids: number[] }[] }).cases
