import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { ensureTrainingPython } from './python-env.ts'
import { OPTIONS, installBundle, recipeArgs, trainDefault } from './train-default.ts'

/** Exports a small random-weight model with the training code, as `npm run train:default` would stage it. */
let python = ''
function stageRandomBundle(dir: string, grounded = false, projection = false): void {
  const script = `
import dataclasses, sys, torch
from pathlib import Path
from tests.helpers import TINY
from snoopi_train.nets import AutoEncoder, TextEncoder, UNet
from snoopi_train.export import export_bundle, reference_images
from snoopi_train.checkpoint import write_json
cfg = dataclasses.replace(TINY, zero_padding=sys.argv[2] == "grounded")
torch.manual_seed(1)
text, unet, ae = TextEncoder(cfg), UNet(cfg), AutoEncoder(cfg)
ae.scaling_factor.fill_(1.7)
out = Path(sys.argv[1])
projection = sys.argv[3] == "projection"
export_bundle(out, cfg, text, unet, ae, nasa_alpha=0.9, version="random-test", nasa_projection_alpha=2.0 if projection else None)
write_json(out / "reference-images.json", reference_images(text, unet, ae, 2.0 if projection else 0.9, projection=projection))`
  const result = spawnSync(python, ['-c', script, dir, grounded ? 'grounded' : 'plain', projection ? 'projection' : 'plain'], { cwd: resolve(import.meta.dirname, '../../training'), encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } })
  if (result.status !== 0) throw new Error(result.stderr)
}

beforeAll(() => {
  python = ensureTrainingPython()
}, 600_000)

describe('installBundle', { timeout: 120_000 }, () => {
  it('adds the tokenizer, checks the ONNX files against PyTorch (NASA included) and swaps the bundle in', async () => {
    const root = mkdtempSync(join(tmpdir(), 'snoopi-install-'))
    const out = join(root, 'default-bundle')
    stageRandomBundle(`${out}.staging`)
    const lines: string[] = []
    await installBundle(`${out}.staging`, out, (line) => lines.push(line))
    expect(existsSync(`${out}.staging`)).toBe(false)
    expect(existsSync(join(out, 'tokenizer', 'vocab.json'))).toBe(true)
    const compared = lines.filter((l) => l.includes('max pixel difference'))
    expect(compared).toHaveLength(4)
    expect(compared.some((l) => l.includes('minus "blue square"'))).toBe(true)
    for (const line of compared) expect(line).toMatch(/max pixel difference [0-2],/)
    expect(lines.at(-1)).toMatch(/default bundle random-test \(NASA α 0.9\) installed/)
  })

  it("reproduces a grounded recipe's bundle, whose text encoder zeroes the padding, in ONNX too", async () => {
    const root = mkdtempSync(join(tmpdir(), 'snoopi-install-'))
    const out = join(root, 'default-bundle')
    stageRandomBundle(`${out}.staging`, true)
    const grounded = readFileSync(join(`${out}.staging`, 'reference-images.json'), 'utf8')
    const lines: string[] = []
    await installBundle(`${out}.staging`, out, (line) => lines.push(line))
    const compared = lines.filter((l) => l.includes('max pixel difference'))
    expect(compared).toHaveLength(4)
    for (const line of compared) expect(line).toMatch(/max pixel difference [0-2],/)
    stageRandomBundle(join(root, 'plain'), false) // the same weights without the zeroing draw other images
    expect(readFileSync(join(root, 'plain', 'reference-images.json'), 'utf8')).not.toBe(grounded)
  })

  it('reproduces NASA with projection, the default of a bundle whose snoopi.json gives its α', async () => {
    const root = mkdtempSync(join(tmpdir(), 'snoopi-install-'))
    const out = join(root, 'default-bundle')
    stageRandomBundle(`${out}.staging`, false, true)
    expect(JSON.parse(readFileSync(join(`${out}.staging`, 'snoopi.json'), 'utf8'))).toMatchObject({ nasa_alpha: 0.9, nasa_projection_alpha: 2 })
    const cases = JSON.parse(readFileSync(join(`${out}.staging`, 'reference-images.json'), 'utf8')) as { projection?: boolean; rgb_base64: string }[]
    expect(cases[3]).toMatchObject({ negative_prompt: 'blue square', alpha: 2, projection: true })
    const lines: string[] = []
    await installBundle(`${out}.staging`, out, (line) => lines.push(line))
    const compared = lines.filter((l) => l.includes('max pixel difference'))
    expect(compared).toHaveLength(4)
    for (const line of compared) expect(line).toMatch(/max pixel difference [0-2],/)
    // The negative prompt acts: the projected image is not the plain one of the same seed.
    expect(cases[3]!.rgb_base64).not.toBe(cases[0]!.rgb_base64)
  })

  it('refuses a bundle that does not reproduce its reference images and keeps the installed one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'snoopi-install-'))
    const out = join(root, 'default-bundle')
    stageRandomBundle(`${out}.staging`)
    await installBundle(`${out}.staging`, out, () => {})
    const installed = readFileSync(join(out, 'snoopi.json'), 'utf8')

    stageRandomBundle(`${out}.staging`)
    const referencePath = join(`${out}.staging`, 'reference-images.json')
    const cases = JSON.parse(readFileSync(referencePath, 'utf8')) as { rgb_base64: string }[]
    const pixels = Buffer.from(cases[0]!.rgb_base64, 'base64')
    pixels[100] = (pixels[100]! + 40) % 256
    cases[0]!.rgb_base64 = pixels.toString('base64')
    writeFileSync(referencePath, JSON.stringify(cases))
    writeFileSync(join(`${out}.staging`, 'snoopi.json'), installed.replace('random-test', 'tampered'))
    await expect(installBundle(`${out}.staging`, out, () => {})).rejects.toThrow(/does not reproduce PyTorch's image/)
    expect(readFileSync(join(out, 'snoopi.json'), 'utf8')).toBe(installed)
  })
})

describe('npm run train:default', () => {
  it('passes --grounded and --removal on to the recipe, each with its own work folder and results', () => {
    const parse = (argv: string[]) => recipeArgs(parseArgs({ args: argv, options: OPTIONS }).values)
    const grounded = parse(['--grounded', '--until', 'teacher'])
    expect(grounded).toContain('--grounded')
    expect(grounded[grounded.indexOf('--work') + 1]).toMatch(/\.cache\/training-grounded$/)
    expect(grounded[grounded.indexOf('--results') + 1]).toMatch(/training\/results-grounded$/)
    const plain = parse(['--work', '/tmp/w'])
    expect(plain).not.toContain('--grounded')
    expect(plain[plain.indexOf('--work') + 1]).toBe('/tmp/w')
    expect(plain[plain.indexOf('--results') + 1]).toMatch(/training\/results$/)
    const removal = parse(['--removal'])
    expect(removal).toContain('--removal')
    expect(removal[removal.indexOf('--work') + 1]).toMatch(/\.cache\/training-removal$/)
    expect(removal[removal.indexOf('--results') + 1]).toMatch(/training\/results-removal$/)
    expect(plain).not.toContain('--removal')
    const weighted = parse(['--removal-weight', '0.5'])
    expect(weighted.slice(weighted.indexOf('--removal-weight'), weighted.indexOf('--removal-weight') + 2)).toEqual(['--removal-weight', '0.5'])
    expect(weighted[weighted.indexOf('--work') + 1]).toMatch(/\.cache\/training-removal$/)
    const budgets = parse(['--budget', 'pgsb=3000', '--budget', 'swiftbrush=3000'])
    expect(budgets.join(' ')).toContain('--budget pgsb=3000 --budget swiftbrush=3000')
  })

  it('explains itself with --help', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    expect(await trainDefault(['--help'])).toBe(0)
    expect(log.mock.calls.flat().join('\n')).toMatch(/Usage: npm run train:default[\s\S]*resumes[\s\S]*--grounded/)
    log.mockRestore()
  })

  it('refuses a removal weight, step count or budget that is not a number before installing or training anything', () => {
    const parse = (argv: string[]) => recipeArgs(parseArgs({ args: argv, options: OPTIONS }).values)
    expect(() => parse(['--removal-weight', '0'])).toThrow(/--removal-weight 0: expected a number above 0/)
    expect(() => parse(['--removal-weight', 'heavy'])).toThrow(/--removal-weight heavy: expected a number above 0/)
    expect(() => parse(['--removal-weight=-1'])).toThrow(/expected a number above 0/)
    expect(parse(['--removal-weight', '2'])).toContain('2')
    expect(() => parse(['--student-steps', '2.5'])).toThrow(/--student-steps 2.5: expected a whole number/)
    expect(() => parse(['--student-steps', '0'])).toThrow(/at least 1/)
    expect(parse(['--student-steps', '8000'])).toContain('8000')
    expect(() => parse(['--budget', 'pgsb'])).toThrow(/--budget pgsb: expected STAGE=SECONDS/)
    expect(() => parse(['--budget', 'vae=10'])).toThrow(/STAGE one of teacher, pgsb, swiftbrush/)
    expect(parse(['--budget', 'teacher=90.5'])).toContain('teacher=90.5')
  })

  it('refuses unknown options', async () => {
    await expect(trainDefault(['--epochs', '3'])).rejects.toThrow(/Unknown option '--epochs'/)
  })
})
