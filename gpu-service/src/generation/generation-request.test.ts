import { describe, expect, it } from 'vitest'
import { loadBundle } from '../bundle/load/model-bundle.ts'
import { InvalidRequestError } from '../service/service-error.ts'
import { testBundle } from '../testing/bundles.ts'
import { validateGeneration, type GenerationInput } from './generation-request.ts'

/** The tiny bundle's description only: validation needs no sessions. */
const bundle = loadBundle(testBundle('tiny'))
const base = { prompt: 'a red circle and a blue square', seed: 21 }
const withNegative = { ...base, negativePrompt: 'blue square' }

describe('validateGeneration', () => {
  it('fills in the defaults: the bundle\'s first size, png, one image, NASA at the bundle\'s α', () => {
    expect(validateGeneration(bundle, withNegative)).toEqual({
      prompt: base.prompt,
      negativePrompt: 'blue square',
      guidance: { mode: 'nasa', alpha: 0.04, projection: false },
      seeds: [21n],
      size: { width: 64, height: 64 },
      outputFormat: 'png',
      mode: 'nasa',
    })
  })

  it('gives image i the seed seed + i, up to 2^64-1', () => {
    expect(validateGeneration(bundle, { ...base, n: 3, seed: 2n ** 64n - 3n }).seeds).toEqual([2n ** 64n - 3n, 2n ** 64n - 2n, 2n ** 64n - 1n])
  })

  it('fills in NAG\'s and CFG\'s defaults (φ 5, τ 2.5, α 0.25; scale 2) and tells NASA\'s forms apart', () => {
    expect(validateGeneration(bundle, { ...withNegative, guidance: { mode: 'nag' } })).toMatchObject({ guidance: { mode: 'nag', scale: 5, tau: 2.5, alpha: 0.25 }, mode: 'nag' })
    expect(validateGeneration(bundle, { ...withNegative, guidance: { mode: 'cfg' } })).toMatchObject({ guidance: { mode: 'cfg', scale: 2 }, mode: 'cfg' })
    expect(validateGeneration(bundle, { ...withNegative, guidance: { projection: true } }).mode).toBe('nasa-proj')
  })

  it('treats a blank negative prompt or mode none as no negative prompt', () => {
    for (const input of [{ ...base, negativePrompt: '  ' }, { ...withNegative, guidance: { mode: 'none' as const } }, base]) {
      expect(validateGeneration(bundle, input)).toMatchObject({ negativePrompt: undefined, guidance: { mode: 'none' }, mode: 'none' })
    }
  })

  it('checks the resolved guidance with the contract\'s rule: a bundle default outside the API\'s range is refused too', () => {
    expect(() => validateGeneration({ ...bundle, nasaAlpha: 3 }, withNegative)).toThrow(/guidance alpha must be a number from 0 to 2 for nasa/)
    // Fields the mode does not read are ignored, as the contract's schema ignores them.
    expect(validateGeneration(bundle, { ...withNegative, guidance: { mode: 'cfg', tau: 99 } }).guidance).toEqual({ mode: 'cfg', scale: 2 })
  })

  it.each<[string, GenerationInput, RegExp]>([
    ['an empty prompt', { prompt: '  ', seed: 1 }, /the prompt is empty/],
    ['an over-long prompt', { prompt: 'x'.repeat(2001), seed: 1 }, /2001 characters; the limit is 2000/],
    ['a size not a multiple of 8', { prompt: 'a', seed: 1, size: { width: 60, height: 64 } }, /multiples of 8/],
    ['a size the bundle does not offer', { prompt: 'a', seed: 1, size: { width: 512, height: 512 } }, /not offered by this model; allowed: 64x64, 32x32, 128x128/],
    ['a negative seed', { prompt: 'a', seed: -1 }, /seed must be an integer in \[0, 2\^64-1\]/],
    ['a seed above 2^64-1', { prompt: 'a', seed: 2n ** 64n }, /seed must be an integer/],
    ['a later image\'s seed above 2^64-1', { prompt: 'a', seed: 2n ** 64n - 1n, n: 2 }, /seed must be an integer/],
    ['too many images', { prompt: 'a', seed: 1, n: 17 }, /at most 16 images/],
    ['no images', { prompt: 'a', seed: 1, n: 0 }, /n must be a positive integer/],
    ['an unknown format', { prompt: 'a', seed: 1, outputFormat: 'gif' as never }, /output format must be one of png, webp, jpeg/],
    ['a projection with NAG', { ...withNegative, guidance: { mode: 'nag', projection: true } }, /guidance projection is a NASA setting; mode nag has none/],
    ['a projection that is not a boolean', { ...withNegative, guidance: { projection: 'yes' as never } }, /guidance projection must be true or false/],
    ['α above the range', { ...withNegative, guidance: { alpha: 3 } }, /guidance alpha must be a number from 0 to 2/],
    ['NAG τ below the range', { ...withNegative, guidance: { mode: 'nag', tau: 0.5 } }, /guidance tau must be a number from 1 to 10/],
    ['an unknown mode', { ...withNegative, guidance: { mode: 'magic' as never } }, /guidance mode must be one of nasa, nag, cfg, none/],
    ['a guidance list', { ...withNegative, guidance: [{}, {}] as never }, /guidance must be one object/],
    ['an over-long negative prompt', { ...base, negativePrompt: 'n'.repeat(2001) }, /the negative prompt is 2001 characters/],
  ])('rejects %s with a clear InvalidRequestError (a 400)', (_name, input, message) => {
    const error = (() => {
      try {
        return validateGeneration(bundle, input)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect((error as InvalidRequestError).message).toMatch(message)
    expect([(error as InvalidRequestError).status, (error as InvalidRequestError).code]).toEqual([400, 'invalid_request'])
  })
})
