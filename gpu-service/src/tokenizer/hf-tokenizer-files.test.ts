import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ClipTokenizer } from './clip-tokenizer.ts'
import { writeHfTokenizerFiles } from './hf-tokenizer-files.ts'
import { mergesGzPath } from '../testing/clip-reference.ts'

const scratch = mkdtempSync(join(tmpdir(), 'hf-tokenizer-files-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const written = join(scratch, 'written')
writeHfTokenizerFiles(written, { padToken: '!', mergesGz: mergesGzPath })
const readText = (name: string) => readFileSync(join(written, name), 'utf8')
const readJson = (name: string) => JSON.parse(readText(name)) as Record<string, unknown>

/** A copy of the written folder with some files replaced (a string) or removed (null). */
let copies = 0
function variant(files: Record<string, string | null>): string {
  const dir = join(scratch, `variant-${copies++}`)
  mkdirSync(dir)
  for (const name of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
    writeFileSync(join(dir, name), readText(name))
  }
  for (const [name, content] of Object.entries(files)) {
    if (content === null) unlinkSync(join(dir, name))
    else writeFileSync(join(dir, name), content)
  }
  return dir
}
const withSetting = (file: string, key: string, value: unknown) => ({ [file]: JSON.stringify({ ...readJson(file), [key]: value }) })

describe('writeHfTokenizerFiles', () => {
  it('writes the files Optimum exports for CLIP', () => {
    const vocab = readJson('vocab.json')
    expect(Object.keys(vocab).length).toBe(49408)
    expect([vocab['!'], vocab['Ġ</w>'], vocab['in'], vocab['<|startoftext|>'], vocab['<|endoftext|>']]).toEqual([0, 476, 512, 49406, 49407])
    const merges = readText('merges.txt').split('\n')
    expect(merges.slice(0, 3)).toEqual(['#version: 0.2', 'i n', 't h'])
    expect(merges.length).toBe(1 + 48894 + 1) // header, merges, final newline
    expect(readJson('tokenizer_config.json')).toMatchObject({
      bos_token: '<|startoftext|>',
      eos_token: '<|endoftext|>',
      pad_token: '!',
      model_max_length: 77,
      do_lower_case: true,
      tokenizer_class: 'CLIPTokenizer',
    })
    expect(readJson('special_tokens_map.json')).toMatchObject({ bos_token: { content: '<|startoftext|>' }, pad_token: '!' })
  })

  it('keeps vocab.json in id order', () => {
    const ids = Object.values(readJson('vocab.json'))
    const lines = readText('vocab.json').split('\n').slice(1, 4)
    expect(lines).toEqual(['  "!": 0,', '  "\\"": 1,', '  "#": 2,'])
    expect(ids.length).toBe(49408)
  })
})

describe('ClipTokenizer.fromDirectory', () => {
  it('reads the pad token as a string or an AddedToken object', () => {
    expect(ClipTokenizer.fromDirectory(written).padId).toBe(0)
    const objectForm = variant(withSetting('tokenizer_config.json', 'pad_token', { content: '<|endoftext|>', lstrip: false }))
    expect(ClipTokenizer.fromDirectory(objectForm).padId).toBe(49407)
  })

  it('falls back to special_tokens_map.json, then to <|endoftext|>', () => {
    const noConfig = variant({ 'tokenizer_config.json': null })
    expect(ClipTokenizer.fromDirectory(noConfig).padId).toBe(0)
    const nullPad = variant(withSetting('tokenizer_config.json', 'pad_token', null))
    expect(ClipTokenizer.fromDirectory(nullPad).padId).toBe(0)
    const neither = variant({ 'tokenizer_config.json': null, 'special_tokens_map.json': null })
    expect(ClipTokenizer.fromDirectory(neither).padId).toBe(49407)
  })

  it('rejects a vocab.json that disagrees with the merges, naming vocab.json', () => {
    const vocab = readJson('vocab.json')
    const swapped = variant({ 'vocab.json': JSON.stringify({ ...vocab, in: 513, th: 512 }) })
    expect(() => ClipTokenizer.fromDirectory(swapped)).toThrow(
      /vocab\.json disagrees with .*merges\.txt: token "in" \(merge 1, "i n"\) has id 513, expected 512/,
    )
    const { 'cat</w>': _cat, ...withoutCat } = vocab
    const missing = variant({ 'vocab.json': JSON.stringify(withoutCat) })
    expect(() => ClipTokenizer.fromDirectory(missing)).toThrow(/vocab\.json disagrees .*"cat<\/w>".* is missing/)
    const extra = variant({ 'vocab.json': JSON.stringify({ ...vocab, '<|pad|>': 49408 }) })
    expect(() => ClipTokenizer.fromDirectory(extra)).toThrow(/vocab\.json disagrees .*49409 tokens.*"<\|pad\|>"/)
  })

  it('names the file that is missing or malformed', () => {
    expect(() => ClipTokenizer.fromDirectory(variant({ 'vocab.json': null }))).toThrow(/vocab\.json: cannot read .*ENOENT/)
    expect(() => ClipTokenizer.fromDirectory(variant({ 'merges.txt': null }))).toThrow(/merges\.txt: cannot read .*ENOENT/)
    expect(() => ClipTokenizer.fromDirectory(variant({ 'vocab.json': '{"a": ' }))).toThrow(/vocab\.json: not valid JSON/)
    expect(() => ClipTokenizer.fromDirectory(variant({ 'vocab.json': '{"a": "one"}' }))).toThrow(/vocab\.json: the id of "a"/)
    const badPad = variant(withSetting('tokenizer_config.json', 'pad_token', 7))
    expect(() => ClipTokenizer.fromDirectory(badPad)).toThrow(/tokenizer_config\.json: pad_token should be a string/)
    const unknownPad = variant(withSetting('tokenizer_config.json', 'pad_token', '<pad>'))
    expect(() => ClipTokenizer.fromDirectory(unknownPad)).toThrow(/tokenizer_config\.json: pad_token "<pad>" is not in .*vocab\.json/)
  })

  it('reads merges.txt with Windows line endings', () => {
    const crlf = variant({ 'merges.txt': readText('merges.txt').replaceAll('\n', '\r\n') })
    expect(ClipTokenizer.fromDirectory(crlf).encode('a photo of a cat')).toEqual([320, 1125, 539, 320, 2368])
  })
})
