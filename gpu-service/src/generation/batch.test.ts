import { describe, expect, it } from 'vitest'
import { loadBundle } from '../bundle/load/model-bundle.ts'
import { testBundle } from '../testing/bundles.ts'
import { batchKey, batchOf } from './batch.ts'
import { validateGeneration, type GenerationInput } from './generation-request.ts'

const bundle = loadBundle(testBundle('tiny'))
const valid = (input: GenerationInput) => validateGeneration(bundle, input)

describe('batchOf', () => {
  it('puts every image of every request in one row list, in order, with its own negative prompt and guidance', () => {
    const batch = batchOf([valid({ prompt: 'a', seed: 1, n: 2, negativePrompt: 'x', guidance: { alpha: 0.5 } }), valid({ prompt: 'b', seed: 7 })])
    expect(batch).toEqual({
      size: { width: 64, height: 64 },
      outputFormat: 'png',
      mode: 'nasa',
      rows: [
        { prompt: 'a', seed: 1n, negative: 'x', guidance: { mode: 'nasa', alpha: 0.5, projection: false } },
        { prompt: 'a', seed: 2n, negative: 'x', guidance: { mode: 'nasa', alpha: 0.5, projection: false } },
        { prompt: 'b', seed: 7n, negative: undefined, guidance: { mode: 'none' } },
      ],
    })
  })

  it('keys requests by size, guided graph and format (the batcher groups by it)', () => {
    expect(batchKey(valid({ prompt: 'a', seed: 1, negativePrompt: 'x', guidance: { projection: true }, outputFormat: 'webp' }))).toBe('64x64|nasa-proj|webp')
    expect(batchKey(valid({ prompt: 'a', seed: 1, size: { width: 128, height: 128 } }))).toBe('128x128|none|png')
  })

  it.each<[string, GenerationInput[], RegExp]>([
    [
      'mixed modes in one call',
      [
        { prompt: 'a', seed: 1, negativePrompt: 'x', guidance: { mode: 'nasa' } },
        { prompt: 'b', seed: 2, negativePrompt: 'y', guidance: { mode: 'nag' } },
      ],
      /one guidance mode .* nasa and nag/,
    ],
    [
      'both NASA forms in one call',
      [
        { prompt: 'a', seed: 1, negativePrompt: 'x', guidance: { projection: true } },
        { prompt: 'b', seed: 2, negativePrompt: 'y', guidance: { projection: false } },
      ],
      /one guidance mode .* nasa-proj and nasa/,
    ],
    [
      'two sizes',
      [
        { prompt: 'a', seed: 1 },
        { prompt: 'b', seed: 2, size: { width: 32, height: 32 } },
      ],
      /one size and format, got 64x64 png and 32x32 png/,
    ],
    [
      'two formats',
      [
        { prompt: 'a', seed: 1 },
        { prompt: 'b', seed: 2, outputFormat: 'jpeg' },
      ],
      /one size and format, got 64x64 png and 64x64 jpeg/,
    ],
  ])('refuses %s (the batcher never groups such requests)', (_name, inputs, message) => {
    expect(() => batchOf(inputs.map(valid))).toThrow(message)
  })

  it('refuses an empty batch', () => {
    expect(() => batchOf([])).toThrow(/at least one request/)
  })
})
