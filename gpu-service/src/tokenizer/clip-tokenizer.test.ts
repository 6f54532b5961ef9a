import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ClipTokenizer } from './clip-tokenizer.ts'
import { writeHfTokenizerFiles } from './hf-tokenizer-files.ts'
import { defaultMergesGzPath } from './merges-gz.ts'
import { mergesGzPath, referenceCases } from '../testing/clip-reference.ts'

/** SHA-256 of OpenAI CLIP's `bpe_simple_vocab_16e6.txt.gz`, as published with it. */
const CLIP_MERGES_SHA256 = '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a'

const fromGz = ClipTokenizer.fromMergesGz(mergesGzPath)
const scratch = mkdtempSync(join(tmpdir(), 'clip-tokenizer-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function fromWrittenFiles(padToken: '<|endoftext|>' | '!'): ClipTokenizer {
  const dir = join(scratch, padToken === '!' ? 'sd2' : 'sd1')
  writeHfTokenizerFiles(dir, { padToken, mergesGz: mergesGzPath })
  return ClipTokenizer.fromDirectory(dir)
}
const sd1 = fromWrittenFiles('<|endoftext|>')
const sd2 = fromWrittenFiles('!')

describe('ClipTokenizer', () => {
  it('ships the real CLIP merge list (its published SHA-256) and the reference cases', () => {
    expect(referenceCases.length).toBeGreaterThanOrEqual(60)
    expect(readFileSync(defaultMergesGzPath).equals(readFileSync(mergesGzPath))).toBe(true)
    expect(createHash('sha256').update(readFileSync(mergesGzPath)).digest('hex')).toBe(CLIP_MERGES_SHA256)
  })

  it('has CLIP\'s 49,408-token vocabulary', () => {
    expect(fromGz.vocabSize).toBe(49408)
    expect([fromGz.startId, fromGz.endId, fromGz.padId]).toEqual([49406, 49407, 49407])
  })

  it.each(referenceCases.map((c) => [c.text, c.ids] as const))('encodes %j as canonical CLIP', (text, ids) => {
    expect(fromGz.encode(text)).toEqual(ids)
  })

  it.each([
    ['SD 1.x', sd1],
    ['SD 2.x', sd2],
  ])('gives the same ids through %s tokenizer files written and read back', (_name, tokenizer) => {
    expect(tokenizer.vocabSize).toBe(49408)
    for (const { text, ids } of referenceCases) expect(tokenizer.encode(text), text).toEqual(ids)
  })

  it('keeps the special tokens whole when a prompt spells them', () => {
    expect(fromGz.encode('<|startoftext|>a cat<|endoftext|>')).toEqual([49406, 320, 2368, 49407])
    expect(fromGz.encode('<|ENDOFTEXT|>')).toEqual([49407])
  })

  it.each([
    // Expected ids from the canonical tokenizer (without ftfy).
    ['U+0345, which CLIP\'s pattern drops', 'a\u0345b', [320, 321]],
    ['"\'ſ", a contraction under IGNORECASE', "it'\u017f", [585, 6, 129, 379]],
    ['U+0085 as whitespace', '\u0085a\u0085b\u0085', [320, 321]],
    ['U+FEFF as a symbol, not whitespace', '\ufeffa', [171, 119, 379, 320]],
    ['U+001C stripped at the ends only', '\u001ca\u001c a\u001cb\u001c', [320, 472, 320, 472, 321]],
    ['combining accents (not NFC)', 'Ca\u0301fe\u0301', [1684, 136, 479, 873, 136, 479]],
    ['entities unescaped twice', '&amp;amp; &lt;3 &#39;s &quot;', [261, 283, 274, 568, 257]],
    ['final sigma when lower-casing', 'ΣΟΦΟΣ', [139, 225, 138, 123, 139, 228, 138, 123, 139, 480]],
    ['dotted capital I', 'İstanbul', [328, 16384, 11231]],
    ['empty text', ' \t ', []],
  ])('matches CLIP on %s', (_what, text, ids) => {
    expect(fromGz.encode(text)).toEqual(ids)
  })
})

describe('ClipTokenizer.frame', () => {
  it('frames start, ids, end and SD 1.x padding (<|endoftext|>, 49407)', () => {
    const { ids, dropped } = sd1.frame('a photo of a cat')
    expect(dropped).toBe(0)
    expect(ids).toBeInstanceOf(Int32Array)
    expect(ids.length).toBe(77)
    expect([...ids.slice(0, 8)]).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407])
    expect(sd1.padId).toBe(49407)
    expect(ids.slice(7).every((id) => id === 49407)).toBe(true)
  })

  it('pads SD 2.x bundles with "!" (id 0)', () => {
    const { ids } = sd2.frame('a photo of a cat')
    expect(sd2.padId).toBe(0)
    expect([sd2.startId, sd2.endId]).toEqual([49406, 49407])
    expect([...ids.slice(0, 8)]).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 0])
    expect(ids.slice(7).every((id) => id === 0)).toBe(true)
  })

  it('takes the pad token as an option from the merge list', () => {
    expect(ClipTokenizer.fromMergesGz(mergesGzPath, { padToken: '!' }).frame('cat', 4).ids).toEqual(Int32Array.of(49406, 2368, 49407, 0))
  })

  it('truncates long prompts to length - 2 tokens, keeps the end token, counts what it dropped', () => {
    const long = referenceCases.map((c) => c.text).join(' ')
    const all = sd1.encode(long)
    expect(all.length).toBeGreaterThan(75)
    const { ids, dropped } = sd1.frame(long)
    expect(ids.length).toBe(77)
    expect([...ids]).toEqual([49406, ...all.slice(0, 75), 49407])
    expect(dropped).toBe(all.length - 75)
  })

  it('fits exactly length - 2 tokens without dropping any', () => {
    const text = Array.from({ length: 75 }, () => 'cat').join(' ')
    const { ids, dropped } = sd1.frame(text)
    expect(dropped).toBe(0)
    expect(ids[75]).toBe(2368)
    expect(ids[76]).toBe(49407)
    expect(sd1.frame(`${text} cat`).dropped).toBe(1)
  })

  it('frames other lengths and rejects impossible ones', () => {
    expect(sd2.frame('a photo of a cat', 4)).toEqual({ ids: Int32Array.of(49406, 320, 1125, 49407), dropped: 3 })
    expect(sd2.frame('', 3).ids).toEqual(Int32Array.of(49406, 49407, 0))
    expect(() => sd2.frame('cat', 1)).toThrow(/frame length/)
  })
})

describe('ClipTokenizer.fromMergeLines', () => {
  it('builds the vocabulary from any merge list: bytes, bytes + </w>, merges, specials', () => {
    const tokenizer = ClipTokenizer.fromMergeLines(['#version: 0.2', 'c a', 'ca t</w>'])
    expect(tokenizer.vocabSize).toBe(512 + 2 + 2)
    expect([tokenizer.startId, tokenizer.endId, tokenizer.padId]).toEqual([514, 515, 515])
    expect(tokenizer.encode('cat cab')).toEqual([513, 512, 'b'.charCodeAt(0) - 33 + 256])
  })

  it('refuses a list without its version header (it would lose the first merge)', () => {
    expect(() => ClipTokenizer.fromMergeLines(['i n', 't h'], { source: 'my-merges.txt' })).toThrow(
      /my-merges\.txt: expected a "#version" header/,
    )
    expect(() => ClipTokenizer.fromMergeLines(['#version: 0.2', 'i n', 'oops'])).toThrow(/line 3 is not a merge/)
  })

  it('names the file when the gzipped list cannot be read', () => {
    expect(() => ClipTokenizer.fromMergesGz(join(scratch, 'missing.txt.gz'))).toThrow(/missing\.txt\.gz: cannot read .*ENOENT/)
  })
})

