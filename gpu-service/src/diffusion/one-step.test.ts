import { describe, expect, it } from 'vitest'
import { gaussianNoise } from './gaussian-noise.ts'
import { SD_VAE_SCALING_FACTOR, predictX0, toVaeInput } from './one-step.ts'

const N = 4 * 64 * 64
const ALPHA_BARS = [0.004660098513077238, 0.5, 0.99915] // SD's ᾱ at t = 999, mid, t = 0
const EPS32 = 2 ** -24 // float32 unit roundoff

/** Max over elements of |actual − expected| / |expected|. */
function maxRelativeError(actual: Float32Array, expected: ArrayLike<number>): number {
  let worst = 0
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.abs(expected[i]!))
  }
  return worst
}

describe('predictX0 against direct formulas', () => {
  const z = gaussianNoise(1n, N)
  const output = gaussianNoise(2n, N)

  it.each(ALPHA_BARS)('epsilon at ᾱ = %s', (alphaBar) => {
    const x0 = predictX0({ z, modelOutput: output, alphaBar, predictionType: 'epsilon' })
    const expected = Array.from(z, (zi, i) => zi / Math.sqrt(alphaBar) - output[i]! * Math.sqrt(1 / alphaBar - 1))
    expect(maxRelativeError(x0, expected)).toBeLessThanOrEqual(1e-6)
  })

  it.each(ALPHA_BARS)('v_prediction at ᾱ = %s', (alphaBar) => {
    const x0 = predictX0({ z, modelOutput: output, alphaBar, predictionType: 'v_prediction' })
    const expected = Array.from(z, (zi, i) => Math.sqrt(alphaBar) * zi - Math.sqrt(1 - alphaBar) * output[i]!)
    expect(maxRelativeError(x0, expected)).toBeLessThanOrEqual(1e-6)
  })

  it('sample returns the output itself (a copy)', () => {
    const x0 = predictX0({ z, modelOutput: output, alphaBar: 0.3, predictionType: 'sample' })
    expect(x0).not.toBe(output)
    expect(x0).toEqual(output)
  })
})

describe('predictX0 round trip through the forward process', () => {
  const x0 = gaussianNoise(10n, N)
  const eps = gaussianNoise(11n, N)

  it.each(ALPHA_BARS)('recovers x0 from ε and from v at ᾱ = %s', (alphaBar) => {
    const a = Math.sqrt(alphaBar)
    const s = Math.sqrt(1 - alphaBar)
    const z = Float32Array.from(x0, (x, i) => a * x + s * eps[i]!)
    const v = Float32Array.from(x0, (x, i) => a * eps[i]! - s * x)

    const fromEps = predictX0({ z, modelOutput: eps, alphaBar, predictionType: 'epsilon' })
    const fromV = predictX0({ z, modelOutput: v, alphaBar, predictionType: 'v_prediction' })
    // Error budget: z and v were rounded to float32 (≤ EPS32 relative each), and so is the result.
    let epsWorst = 0
    let vWorst = 0
    for (let i = 0; i < N; i++) {
      const epsBound = (EPS32 * Math.abs(z[i]!)) / a + EPS32 * Math.abs(x0[i]!)
      const vBound = EPS32 * (a * Math.abs(z[i]!) + s * Math.abs(v[i]!) + Math.abs(x0[i]!))
      epsWorst = Math.max(epsWorst, Math.abs(fromEps[i]! - x0[i]!) / epsBound)
      vWorst = Math.max(vWorst, Math.abs(fromV[i]! - x0[i]!) / vBound)
    }
    // Within the budget (with a factor 2 for the float64 steps and the rounding of a, s).
    expect(epsWorst).toBeLessThanOrEqual(2)
    expect(vWorst).toBeLessThanOrEqual(2)
  })
})

describe('predictX0 buffers and errors', () => {
  const z = gaussianNoise(3n, 64)
  const output = gaussianNoise(4n, 64)

  it('can write in place over z or the model output', () => {
    for (const predictionType of ['epsilon', 'v_prediction', 'sample']) {
      const expected = predictX0({ z, modelOutput: output, alphaBar: 0.2, predictionType })
      const zCopy = z.slice()
      expect(predictX0({ z: zCopy, modelOutput: output, alphaBar: 0.2, predictionType, out: zCopy })).toBe(zCopy)
      expect(zCopy).toEqual(expected)
      const outputCopy = output.slice()
      predictX0({ z, modelOutput: outputCopy, alphaBar: 0.2, predictionType, out: outputCopy })
      expect(outputCopy).toEqual(expected)
    }
  })

  it('rejects an unknown prediction type, naming it', () => {
    expect(() => predictX0({ z, modelOutput: output, alphaBar: 0.5, predictionType: 'flow' })).toThrow(
      'unsupported prediction_type "flow"; expected one of epsilon, v_prediction, sample',
    )
  })

  it('rejects mismatched lengths and a bad ᾱ', () => {
    const short = new Float32Array(63)
    expect(() => predictX0({ z, modelOutput: short, alphaBar: 0.5, predictionType: 'epsilon' })).toThrow(
      'modelOutput has 63 values but z has 64',
    )
    expect(() => predictX0({ z, modelOutput: output, alphaBar: 0.5, predictionType: 'epsilon', out: short })).toThrow(
      'out has 63 values but z has 64',
    )
    for (const alphaBar of [-0.1, 1.1, Number.NaN]) {
      expect(() => predictX0({ z, modelOutput: output, alphaBar, predictionType: 'v_prediction' })).toThrow(
        'alphaBar must be a number in [0, 1]',
      )
    }
    expect(() => predictX0({ z, modelOutput: output, alphaBar: 0, predictionType: 'epsilon' })).toThrow(
      /alphaBar must be > 0 for epsilon prediction/,
    )
    expect(predictX0({ z, modelOutput: output, alphaBar: 0, predictionType: 'v_prediction' })).toEqual(
      Float32Array.from(output, (v) => -v),
    )
  })
})

describe('toVaeInput', () => {
  const x0 = gaussianNoise(5n, 256)

  it('divides by the scaling factor, SD’s 0.18215 by default', () => {
    expect(SD_VAE_SCALING_FACTOR).toBe(0.18215)
    expect(toVaeInput(x0)).toEqual(Float32Array.from(x0, (x) => x / 0.18215))
    expect(toVaeInput(x0, 0.13025)).toEqual(Float32Array.from(x0, (x) => x / 0.13025))
  })

  it('scales in place when given x0 as out', () => {
    const copy = x0.slice()
    expect(toVaeInput(copy, 0.18215, copy)).toBe(copy)
    expect(copy).toEqual(toVaeInput(x0))
  })

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects scaling factor %s', (factor) => {
    expect(() => toVaeInput(x0, factor)).toThrow('scalingFactor must be a finite number > 0')
  })

  it('rejects an out of the wrong length', () => {
    expect(() => toVaeInput(x0, 0.18215, new Float32Array(3))).toThrow('out has 3 values but x0 has 256')
  })
})
