import { Bpe } from './bpe.ts'
import { cleanText } from './clean-text.ts'
import { readHfTokenizerFiles } from './hf-tokenizer-files.ts'
import { canonicalVocab, parseMergeLines, type Merge } from './merge-list.ts'
import { readMergesGz } from './merges-gz.ts'
import { preTokenize } from './pre-tokenize.ts'
import { contextLength, endToken, startToken, type PadToken } from './special-tokens.ts'

/** What a tokenizer is built from, whichever files it came from. */
interface ClipTokenizerParts {
  vocab: Map<string, number>
  merges: Merge[]
  startToken: string
  endToken: string
  padToken: string
  source: string
}

/**
 * OpenAI CLIP's `simple_tokenizer`, id for id (except ftfy's repairs, see `clean-text.ts`): the text
 * encoder of every Stable Diffusion model reads these ids, so one id off changes the image.
 */
export class ClipTokenizer {
  readonly startId: number
  readonly endId: number
  readonly padId: number
  readonly vocabSize: number
  readonly #bpe: Bpe

  private constructor(parts: ClipTokenizerParts) {
    const idOf = (token: string) => {
      const id = parts.vocab.get(token)
      if (id === undefined) throw new Error(`${parts.source}: special token "${token}" is not in the vocabulary`)
      return id
    }
    this.startId = idOf(parts.startToken)
    this.endId = idOf(parts.endToken)
    this.padId = idOf(parts.padToken)
    this.vocabSize = parts.vocab.size
    // CLIP's word pattern keeps the two special tokens whole; its BPE cache is seeded with them.
    const fixed = new Map([
      [startToken, idOf(startToken)],
      [endToken, idOf(endToken)],
    ])
    this.#bpe = new Bpe(parts.merges, parts.vocab, fixed)
  }

  /** From CLIP's own `bpe_simple_vocab_16e6.txt.gz`. Canonical `clip.tokenize` pads with zeros, i.e. `!`. */
  static fromMergesGz(path: string, options: { padToken?: PadToken } = {}): ClipTokenizer {
    return ClipTokenizer.fromMerges(readMergesGz(path), options.padToken ?? endToken, path)
  }

  /** From the lines of a merge file: a `#version` header, then "a b" lines (CLIP keeps 48,894). */
  static fromMergeLines(lines: readonly string[], options: { padToken?: PadToken; source?: string } = {}): ClipTokenizer {
    const source = options.source ?? 'merge lines'
    return ClipTokenizer.fromMerges(parseMergeLines(lines, source), options.padToken ?? endToken, source)
  }

  /**
   * From a Hugging Face tokenizer folder (vocab.json, merges.txt, tokenizer_config.json,
   * special_tokens_map.json); vocab.json must be the vocabulary the merges make.
   */
  static fromDirectory(dir: string): ClipTokenizer {
    return new ClipTokenizer({ ...readHfTokenizerFiles(dir), source: dir })
  }

  private static fromMerges(merges: Merge[], padToken: string, source: string): ClipTokenizer {
    const vocab = new Map(canonicalVocab(merges).map((token, id) => [token, id]))
    return new ClipTokenizer({ vocab, merges, startToken, endToken, padToken, source })
  }

  /** Raw BPE ids of a prompt, without start, end or padding. */
  encode(text: string): number[] {
    const ids: number[] = []
    for (const word of preTokenize(cleanText(text))) ids.push(...this.#bpe.ids(word))
    return ids
  }

  /**
   * The text encoder's input: start, ids, end, then padding, exactly `length` long. Longer prompts
   * keep their first `length - 2` tokens (the end token always stays); `dropped` counts the rest.
   */
  frame(text: string, length = contextLength): { ids: Int32Array; dropped: number } {
    if (!Number.isInteger(length) || length < 2) throw new Error(`frame length must be an integer ≥ 2, got ${length}`)
    const content = this.encode(text)
    const kept = Math.min(content.length, length - 2)
    const ids = new Int32Array(length).fill(this.padId)
    ids[0] = this.startId
    ids.set(content.slice(0, kept), 1)
    ids[kept + 1] = this.endId
    return { ids, dropped: content.length - kept }
  }
}
