import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchOf } from '../generation/batch.ts'
import { validateGeneration, type GenerationInput } from '../generation/generation-request.ts'
import { testBundle } from '../testing/bundles.ts'
import { OneStepPipeline } from './one-step-pipeline.ts'

let pipeline: OneStepPipeline
const logs: string[] = []

beforeAll(async () => {
  pipeline = await OneStepPipeline.load(testBundle('tiny'), { threads: 1, preloadGuidance: ['nasa'], onProgress: (l) => logs.push(l) })
})
afterAll(() => pipeline.dispose())

/** The requests, validated, as one batch (one row each). */
const batch = (on: OneStepPipeline, inputs: GenerationInput[]) => batchOf(inputs.map((input) => validateGeneration(on.bundle, input)))
const png = async (input: GenerationInput) => Buffer.from((await pipeline.run(batch(pipeline, [input]))).images[0]!.data)
const pixels = async (...inputs: GenerationInput[]) => (await pipeline.decode(batch(pipeline, inputs))).pixels
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0)
const base = { prompt: 'a red circle and a blue square', seed: 21 }
const withNegative = { ...base, negativePrompt: 'blue square' }

describe('negative prompts in the pipeline', () => {
  it('builds the NASA UNet at load and logs the per-rule report', () => {
    expect(logs.join('\n')).toMatch(/NASA rewrite: 7 cross-attention layers/)
  })

  it('changes the image for the same seed (NASA by default, the bundle\'s α)', async () => {
    const plain = await png(base)
    expect(plain.equals(await png(withNegative))).toBe(false)
    // The default α is the bundle's (tiny: 0.04).
    expect((await png(withNegative)).equals(await png({ ...withNegative, guidance: { mode: 'nasa', alpha: 0.04 } }))).toBe(true)
  })

  it('gives the plain image byte for byte with α = 0', async () => {
    expect((await png({ ...withNegative, guidance: { alpha: 0 } })).equals(await png(base))).toBe(true)
  })

  it('treats an empty negative prompt or mode none as no negative prompt', async () => {
    const plain = await png(base)
    expect((await png({ ...base, negativePrompt: '  ' })).equals(plain)).toBe(true)
    expect((await png({ ...withNegative, guidance: { mode: 'none' } })).equals(plain)).toBe(true)
  })

  it('runs mixed batches: rows without a negative prompt stay plain', async () => {
    const mixed = await pixels({ prompt: 'a red circle', seed: 3, negativePrompt: 'red', guidance: { alpha: 0.8 } }, { prompt: 'a red circle', seed: 3, guidance: { alpha: 0.8 } })
    const plain = await pixels({ prompt: 'a red circle', seed: 3 })
    const guided = await pixels({ prompt: 'a red circle', seed: 3, negativePrompt: 'red', guidance: { alpha: 0.8 } })
    const per = plain.length
    expect(maxDiff(mixed.slice(per), plain)).toBeLessThan(1e-4)
    expect(maxDiff(mixed.slice(0, per), guided)).toBeLessThan(1e-4)
    expect(maxDiff(guided, plain)).toBeGreaterThan(1e-3)
  })

  it('takes per-row α values', async () => {
    const cat = { prompt: 'a cat', seed: 4, negativePrompt: 'dog' }
    const rows = await pixels({ ...cat, guidance: { alpha: 0 } }, { ...cat, guidance: { alpha: 1.5 } })
    const per = rows.length / 2
    expect(maxDiff(rows.slice(0, per), await pixels({ prompt: 'a cat', seed: 4 }))).toBeLessThan(1e-4)
    expect(maxDiff(rows.slice(per), await pixels({ ...cat, guidance: { alpha: 1.5 } }))).toBeLessThan(1e-4)
  })

  it('offers NAG: φ = 1 is the plain image, φ = 5 another one', async () => {
    const plain = await pixels(base)
    expect(maxDiff(await pixels({ ...withNegative, guidance: { mode: 'nag', scale: 1 } }), plain)).toBeLessThan(1e-4)
    const nag = await pixels({ ...withNegative, guidance: { mode: 'nag' } })
    expect(maxDiff(nag, plain)).toBeGreaterThan(1e-4)
    expect(logs.join('\n')).toMatch(/NAG rewrite: 7 cross-attention layers/)
  })

  it('offers NASA with projection: α = 0 is the plain image, α = 1.5 neither the plain image nor plain NASA', async () => {
    const plain = await pixels(base)
    const projected = (alpha: number) => pixels({ ...withNegative, guidance: { projection: true, alpha } })
    expect(maxDiff(await projected(0), plain)).toBeLessThan(1e-4)
    expect(maxDiff(await projected(1.5), plain)).toBeGreaterThan(1e-4)
    expect(maxDiff(await projected(1.5), await pixels({ ...withNegative, guidance: { projection: false, alpha: 1.5 } }))).toBeGreaterThan(1e-4)
    expect(logs.join('\n')).toMatch(/building the NASA \(projection\) UNet/)
  })

  it('uses projection by default, at its own α, when the bundle gives nasa_projection_alpha', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'snoopi-proj-')), 'tiny')
    cpSync(testBundle('tiny'), dir, { recursive: true })
    const snoopi = JSON.parse(readFileSync(join(dir, 'snoopi.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(dir, 'snoopi.json'), JSON.stringify({ ...snoopi, nasa_projection_alpha: 1.25 }))
    const other = await OneStepPipeline.load(dir, { threads: 1 })
    try {
      const run = async (input: GenerationInput) => (await other.decode(batch(other, [input]))).pixels
      expect(validateGeneration(other.bundle, withNegative).guidance).toEqual({ mode: 'nasa', alpha: 1.25, projection: true })
      expect(maxDiff(await run(withNegative), await pixels({ ...withNegative, guidance: { projection: true, alpha: 1.25 } }))).toBeLessThan(1e-6)
      // Projection off: plain NASA at the bundle's nasa_alpha (0.04), not at the projection's α.
      expect(validateGeneration(other.bundle, { ...withNegative, guidance: { projection: false } }).guidance).toEqual({ mode: 'nasa', alpha: 0.04, projection: false })
    } finally {
      await other.dispose()
    }
  })

  it('offers the CFG baseline: scale 1 is the plain image, scale 3 is ε− + 3·(ε+ − ε−)', async () => {
    const plain = await pixels(base)
    expect(maxDiff(await pixels({ ...withNegative, guidance: { mode: 'cfg', scale: 1 } }), plain)).toBeLessThan(1e-4)
    expect(maxDiff(await pixels({ ...withNegative, guidance: { mode: 'cfg', scale: 3 } }), plain)).toBeGreaterThan(1e-3)
  })
})
