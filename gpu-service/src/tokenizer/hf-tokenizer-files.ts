import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalVocab, parseMergeLines, type Merge } from './merge-list.ts'
import { defaultMergesGzPath, readMergesGz } from './merges-gz.ts'
import { contextLength, endToken, startToken, type PadToken } from './special-tokens.ts'

/**
 * The tokenizer folder of a Hugging Face / Optimum model bundle, as CLIPTokenizer reads and writes it:
 * `vocab.json` (token → id), `merges.txt` (`#version: 0.2`, then "a b" per line), and the special tokens
 * in `tokenizer_config.json` and `special_tokens_map.json`, each either a string or `{ content }`.
 */
export interface HfTokenizerFiles {
  vocab: Map<string, number>
  merges: Merge[]
  startToken: string
  endToken: string
  padToken: string
}

/**
 * Reads a tokenizer folder. Special tokens come from `tokenizer_config.json`, else
 * `special_tokens_map.json` (both optional), else CLIP's own (`<|endoftext|>` pads). The vocabulary
 * must be exactly the one CLIP derives from the merges: ids are positions in a 49,408-row embedding
 * table, so a shifted or foreign vocab.json would silently produce wrong ids.
 */
export function readHfTokenizerFiles(dir: string): HfTokenizerFiles {
  const vocabPath = join(dir, 'vocab.json')
  const mergesPath = join(dir, 'merges.txt')
  const vocab = parseVocab(readJson(vocabPath), vocabPath)
  const merges = parseMergeLines((readText(mergesPath) ?? '').split(/\r?\n/), mergesPath)
  checkVocab(vocab, merges, vocabPath, mergesPath)

  const configPath = join(dir, 'tokenizer_config.json')
  const mapPath = join(dir, 'special_tokens_map.json')
  const sources = [
    { path: configPath, json: readJson(configPath, true) },
    { path: mapPath, json: readJson(mapPath, true) },
  ]
  const special = (key: string, fallback: string): string => {
    for (const { path, json } of sources) {
      const token = tokenSetting(json, key, path)
      if (token === undefined) continue
      if (!vocab.has(token)) throw new Error(`${path}: ${key} "${token}" is not in ${vocabPath}`)
      return token
    }
    return fallback
  }
  return {
    vocab,
    merges,
    startToken: special('bos_token', startToken),
    endToken: special('eos_token', endToken),
    padToken: special('pad_token', endToken),
  }
}

/**
 * Writes the four files of CLIP's tokenizer, derived from the gzipped merge list (by default the
 * shared `bpe_simple_vocab_16e6.txt.gz`), in the form Optimum exports for Stable Diffusion: SD 1.x
 * bundles pad with `<|endoftext|>`, SD 2.x with `!`. `ClipTokenizer.fromDirectory` reads them back.
 */
export function writeHfTokenizerFiles(dir: string, options: { padToken: PadToken; mergesGz?: string }): void {
  const merges = readMergesGz(options.mergesGz ?? defaultMergesGzPath)
  const vocab = canonicalVocab(merges)
  const added = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false })
  const idOf = (token: string) => vocab.indexOf(token)
  const specials = [...new Set([startToken, endToken, options.padToken])]
  const config = {
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      specials.map((token) => [String(idOf(token)), { ...added(token), special: true }]),
    ),
    bos_token: startToken,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: endToken,
    errors: 'replace',
    model_max_length: contextLength,
    pad_token: options.padToken,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: endToken,
  }
  const map = {
    bos_token: added(startToken),
    eos_token: added(endToken),
    pad_token: options.padToken === endToken ? added(endToken) : options.padToken,
    unk_token: added(endToken),
  }
  // Written by hand to keep id order: JSON.stringify would move integer-like keys ("10") to the front.
  const vocabJson = `{\n${vocab.map((token, id) => `  ${JSON.stringify(token)}: ${id}`).join(',\n')}\n}\n`
  const mergesTxt = `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}\n`).join('')}`

  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'vocab.json'), vocabJson)
  writeFileSync(join(dir, 'merges.txt'), mergesTxt)
  writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`)
  writeFileSync(join(dir, 'special_tokens_map.json'), `${JSON.stringify(map, null, 2)}\n`)
}

function parseVocab(json: unknown, path: string): Map<string, number> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${path}: expected an object of token → id`)
  }
  const vocab = new Map<string, number>()
  for (const [token, id] of Object.entries(json)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new Error(`${path}: the id of ${JSON.stringify(token)} is not a non-negative integer: ${JSON.stringify(id)}`)
    }
    vocab.set(token, id as number)
  }
  return vocab
}

/** vocab.json must hold exactly CLIP's vocabulary for these merges, each token at its position. */
function checkVocab(vocab: ReadonlyMap<string, number>, merges: readonly Merge[], vocabPath: string, mergesPath: string) {
  const expected = canonicalVocab(merges)
  const disagree = `${vocabPath} disagrees with ${mergesPath}`
  for (const [id, token] of expected.entries()) {
    const actual = vocab.get(token)
    if (actual === id) continue
    const merge = merges[id - 512]
    const from = merge ? ` (merge ${id - 512 + 1}, "${merge.join(' ')}")` : ''
    const found = actual === undefined ? 'is missing' : `has id ${actual}`
    throw new Error(`${disagree}: token ${JSON.stringify(token)}${from} ${found}, expected ${id}`)
  }
  if (vocab.size !== expected.length) {
    const known = new Set(expected)
    const extra = [...vocab.keys()].filter((token) => !known.has(token)).slice(0, 3)
    throw new Error(
      `${disagree}: it has ${vocab.size} tokens, the merges make ${expected.length} (extra: ${extra.map((t) => JSON.stringify(t)).join(', ')})`,
    )
  }
}

/** A special-token setting: a string, `{ content }` (an AddedToken), or absent / null. */
function tokenSetting(json: unknown, key: string, path: string): string | undefined {
  if (json === undefined) return undefined
  if (typeof json !== 'object' || json === null) throw new Error(`${path}: expected a JSON object`)
  const value: unknown = (json as Record<string, unknown>)[key]
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content
  }
  throw new Error(`${path}: ${key} should be a string or { "content": string }, found ${JSON.stringify(value)}`)
}

/** A file's text; undefined for a missing optional file. */
function readText(path: string, optional = false): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (optional && code === 'ENOENT') return undefined
    throw new Error(`${path}: cannot read the tokenizer file (${code ?? String(error)})`, { cause: error })
  }
}

function readJson(path: string, optional = false): unknown {
  const text = readText(path, optional)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`, { cause: error })
  }
}
