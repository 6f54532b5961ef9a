import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { testBundle } from '../testing/bundles.ts'
import { runCli } from './main.ts'

async function cli(...argv: string[]) {
  let stdout = ''
  let stderr = ''
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString())
        done()
      },
    })
  const code = await runCli(argv, {
    stdin: Readable.from([]),
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
  })
  return { code, stdout, stderr }
}

describe('snoopi make-bundle and generate', () => {
  it('makes a bundle, then generates a batch of PNGs from it with progress lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snoopi-cli-'))
    const made = await cli('make-bundle', '--preset', 'tiny', '--out', join(dir, 'bundle'), '--seed', '3')
    expect(made.code).toBe(0)
    expect(made.stderr).toMatch(/unet: [\d.]+ MB of weights/)
    const out = join(dir, 'cat.png')
    const result = await cli('generate', '--bundle', join(dir, 'bundle'), '--prompt', 'a cat', '--seed', '7', '--batch', '2', '--out', out)
    expect(result.stderr).toMatch(/loading UNet \(2\/3\)/)
    expect(result.stderr).toMatch(/wrote .*cat-0\.png, .*cat-1\.png \(64x64, seed 7…8\)/)
    expect(result.code).toBe(0)
    for (const file of ['cat-0.png', 'cat-1.png']) {
      const meta = await sharp(readFileSync(join(dir, file))).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64])
    }
  })

  // Four CLI runs, each loading a pipeline (and two building the NASA UNet): over vitest's 5 s default
  // on a busy machine, though each run takes about a second.
  it('takes a negative prompt and guidance options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snoopi-cli-'))
    const args = ['generate', '--bundle', testBundle('tiny'), '--prompt', 'a cat', '--seed', '5']
    expect((await cli(...args, '--out', join(dir, 'plain.png'))).code).toBe(0)
    expect((await cli(...args, '--negative-prompt', 'dog', '--alpha', '0.5', '--out', join(dir, 'nasa.png'))).code).toBe(0)
    expect((await cli(...args, '--negative-prompt', 'dog', '--alpha', '0', '--out', join(dir, 'off.png'))).code).toBe(0)
    const [plain, nasa, off] = ['plain', 'nasa', 'off'].map((f) => readFileSync(join(dir, `${f}.png`)))
    expect(plain!.equals(nasa!)).toBe(false)
    expect(plain!.equals(off!)).toBe(true)
    const bad = await cli(...args, '--negative-prompt', 'dog', '--guidance', 'nag', '--tau', '50', '--out', join(dir, 'x.png'))
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/guidance tau must be a number from 1 to 10/)])
  }, 30_000)

  it('picks the format from the file extension', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'snoopi-cli-')), 'cat.webp')
    expect((await cli('generate', '--bundle', testBundle('tiny'), '--prompt', 'a cat', '--out', out)).code).toBe(0)
    expect((await sharp(readFileSync(out)).metadata()).format).toBe('webp')
  })

  it.each([
    [['generate', '--prompt', 'x', '--out', '/tmp/x.png'], 2, /--bundle is required/],
    [['generate', '--bundle', 'B', '--prompt', 'x', '--out', '/tmp/x.png', '--seed=-4'], 2, /--seed must be an integer/],
    [['generate', '--bundle', 'B', '--prompt', 'x', '--out', '/tmp/x.png', '--size', '64x60'], 2, /multiples of 8/],
    [['generate', '--bundle', 'B', '--prompt', '', '--out', '/tmp/x.png'], 2, /the prompt is empty/],
    [['generate', '--bundle', '/nonexistent', '--prompt', 'x', '--out', '/tmp/x.png'], 1, /model bundle: \/nonexistent: not a directory/],
    [['make-bundle', '--preset', 'huge', '--out', '/tmp/x'], 2, /unknown preset "huge" \(tiny, bench, sd21\)/],
    [['make-bundle', '--preset', 'tiny', '--out', '/tmp/x', '--attention', 'flash'], 2, /unknown attention form "flash"/],
  ])('rejects %j with exit code %i and a clear message', async (argv, code, message) => {
    const args = argv.map((a) => (a === 'B' ? testBundle('tiny') : a))
    const result = await cli(...args)
    expect(result.code).toBe(code)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('lists the commands', async () => {
    const result = await cli('--help')
    expect(result.code).toBe(0)
    for (const name of ['generate', 'make-bundle', 'tokenize']) expect(result.stdout).toContain(`  ${name}`)
  })
})
