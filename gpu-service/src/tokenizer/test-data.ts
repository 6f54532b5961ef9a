import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The shared CLIP reference data the tests read: `../shared/data/clip/` beside the repository
 * (the workspace layout), or `$SNOOPI_SHARED_DIR/data/clip/`.
 */
const sharedDir = process.env.SNOOPI_SHARED_DIR ?? fileURLToPath(new URL('../../../../shared', import.meta.url))
const clipDir = join(sharedDir, 'data', 'clip')
if (!existsSync(clipDir)) {
  throw new Error(`shared CLIP test data not found at ${clipDir}; check out ../shared beside the repository or set SNOOPI_SHARED_DIR`)
}

export const mergesGzPath = join(clipDir, 'bpe_simple_vocab_16e6.txt.gz')

/** Reference ids from the canonical tokenizer (no start/end tokens). */
export const referenceCases = (JSON.parse(readFileSync(join(clipDir, 'tokenizer-cases.json'), 'utf8')) as { cases: { text: string; ids: number[] }[] }).cases
