// Tests `snoopi tokenize` (../cli/tokenize-command.ts); kept beside the tokenizer it drives.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../cli/main.ts'
import { writeHfTokenizerFiles } from './hf-tokenizer-files.ts'
import { mergesGzPath, referenceCases } from '../testing/clip-reference.ts'

const scratch = mkdtempSync(join(tmpdir(), 'tokenize-command-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** Runs `snoopi <argv>` with `stdin` as its input; resolves to the exit code and what it printed. */
async function snoopi(argv: string[], stdin: string) {
  let stdout = ''
  let stderr = ''
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString('utf8'))
        done()
      },
    })
  const code = await runCli(argv, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: sink((text) => (stdout += text)),
    stderr: sink((text) => (stderr += text)),
  })
  return { code, stdout, stderr }
}

const texts = JSON.stringify(referenceCases.map((c) => c.text))
const expected = referenceCases.map((c) => c.ids)

describe('snoopi tokenize', () => {
  it('prints the canonical ids of every prompt, on one line, from the gzipped merge list', async () => {
    const { code, stdout, stderr } = await snoopi(['tokenize', '--merges', mergesGzPath], texts)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout.endsWith('\n')).toBe(true)
    expect(stdout.trimEnd().includes('\n')).toBe(false)
    expect(JSON.parse(stdout)).toEqual(expected)
  })

  it('reads a Hugging Face tokenizer folder too', async () => {
    const dir = join(scratch, 'tokenizer')
    writeHfTokenizerFiles(dir, { padToken: '<|endoftext|>', mergesGz: mergesGzPath })
    const { code, stdout } = await snoopi(['tokenize', `--merges=${dir}`], texts)
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual(expected)
  })

  it('answers an empty array with an empty array', async () => {
    expect(await snoopi(['tokenize', '--merges', mergesGzPath], '[]')).toEqual({ code: 0, stdout: '[]\n', stderr: '' })
  })

  it('is listed in snoopi --help and has its own --help', async () => {
    expect((await snoopi(['--help'], '')).stdout).toMatch(/tokenize\s+Print the CLIP BPE token ids/)
    const help = await snoopi(['tokenize', '--help'], '')
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: snoopi tokenize --merges/)
  })

  it.each([
    ['no --merges', [], '["cat"]', /--merges <path> is required/],
    ['an unknown option', ['--merges', mergesGzPath, '--frame'], '["cat"]', /Unknown option '--frame'/],
    ['a stray argument', ['--merges', mergesGzPath, 'cat'], '["cat"]', /Unexpected argument 'cat'/],
    ['stdin that is not JSON', ['--merges', mergesGzPath], 'a photo of a cat', /stdin is not JSON/],
    ['a JSON string instead of an array', ['--merges', mergesGzPath], '"cat"', /stdin must be a JSON array of strings/],
    ['an array with a number', ['--merges', mergesGzPath], '["cat", 7]', /stdin must be a JSON array of strings/],
  ])('exits 2 with the usage on %s', async (_what, args, stdin, message) => {
    const { code, stdout, stderr } = await snoopi(['tokenize', ...args], stdin)
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toMatch(message)
    expect(stderr).toMatch(/^snoopi tokenize: /)
    expect(stderr).toMatch(/Usage: snoopi tokenize/)
  })

  it('exits 1 naming a merge list that does not exist', async () => {
    const missing = join(scratch, 'nope.txt.gz')
    const { code, stderr } = await snoopi(['tokenize', '--merges', missing], '["cat"]')
    expect(code).toBe(1)
    expect(stderr).toBe(`snoopi tokenize: no such file or directory: ${missing}\n`)
  })

  it('exits 1 with the loader\'s message for a broken tokenizer folder', async () => {
    const { code, stderr } = await snoopi(['tokenize', '--merges', scratch], '["cat"]')
    expect(code).toBe(1)
    expect(stderr).toMatch(/^snoopi tokenize: .*vocab\.json: cannot read the tokenizer file \(ENOENT\)\n$/)
  })
})
