import { describe, expect, it } from 'vitest'
import { alphaBarAt, alphasCumprod } from './noise-schedule.ts'

/** |a − b| / |b| ≤ tolerance for every index. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length)
  let worst = 0
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.abs(expected[i]!))
  }
  expect(worst).toBeLessThanOrEqual(tolerance)
}

/** An independent direct computation: β_t from its closed form, ᾱ_t = exp Σ log1p(−β_s). */
function direct(beta: (t: number) => number, steps: number): number[] {
  const out: number[] = []
  let logSum = 0
  for (let t = 0; t < steps; t++) {
    logSum += Math.log1p(-beta(t))
    out.push(Math.exp(logSum))
  }
  return out
}

const T = 1000

describe('alphasCumprod', () => {
  it('defaults to Stable Diffusion’s schedule (scaled_linear, 0.00085 … 0.012, 1000 steps)', () => {
    const ab = alphasCumprod()
    expect(ab.length).toBe(1000)
    // numpy float64: np.cumprod(1 - np.linspace(0.00085**0.5, 0.012**0.5, 1000)**2)
    expect(ab[0]).toBeCloseTo(0.99915, 15)
    expect(Math.abs(ab[499]! / 0.27766965045646763 - 1)).toBeLessThan(1e-12)
    expect(Math.abs(ab[999]! / 0.004660098513077238 - 1)).toBeLessThan(1e-12)
    expect(alphasCumprod({ beta_schedule: 'scaled_linear' })).toEqual(ab)
  })

  it('linear: linspace(beta_start, beta_end)', () => {
    const config = { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, num_train_timesteps: T }
    const expected = direct((t) => 0.0001 + ((0.02 - 0.0001) * t) / (T - 1), T)
    expectClose(alphasCumprod(config), expected, 1e-12)
    // numpy float64 with SD's betas: np.cumprod(1 - np.linspace(0.00085, 0.012, 1000))
    const sd = alphasCumprod({ beta_schedule: 'linear' })
    expect(Math.abs(sd[499]! / 0.1618121459134018 - 1)).toBeLessThan(1e-12)
    expect(Math.abs(sd[999]! / 0.0015789629305514416 - 1)).toBeLessThan(1e-12)
  })

  it('scaled_linear: linspace of square roots, squared', () => {
    const [s, e] = [Math.sqrt(0.00085), Math.sqrt(0.012)]
    const expected = direct((t) => (s + ((e - s) * t) / (T - 1)) ** 2, T)
    expectClose(alphasCumprod({}), expected, 1e-12)
  })

  it('squaredcos_cap_v2: telescopes to f(t/T)/f(0) until β hits the 0.999 cap', () => {
    const ab = alphasCumprod({ beta_schedule: 'squaredcos_cap_v2' })
    const f = (x: number): number => Math.cos(((x + 0.008) / 1.008) * (Math.PI / 2)) ** 2
    // Without the cap, Π (f((s+1)/T) / f(s/T)) = f((t+1)/T) / f(0).
    let capped = 0
    for (let t = 0; t < T; t++) {
      const beta = 1 - f((t + 1) / T) / f(t / T)
      if (beta >= 0.999) {
        capped++
        continue
      }
      if (capped === 0) expect(Math.abs(ab[t]! / (f((t + 1) / T) / f(0)) - 1)).toBeLessThan(1e-9)
    }
    expect(capped).toBe(1) // only the last step is capped: β_999 = 1 − f(1)/f(0.999) = 1 there
    expect(ab[T - 1]! / ab[T - 2]!).toBeCloseTo(1 - 0.999, 12)
    // numpy float64 (diffusers' betas_for_alpha_bar without the float32 cast)
    expect(Math.abs(ab[499]! / 0.4938435904406382 - 1)).toBeLessThan(1e-12)
    expect(Math.abs(ab[999]! / 2.4287669070348567e-9 - 1)).toBeLessThan(1e-9)
  })

  it('stays within 5e-6 (relative) of a float32 computation like diffusers’ for the SD schedules', () => {
    for (const schedule of ['linear', 'scaled_linear'] as const) {
      const [s, e] = schedule === 'linear' ? [0.00085, 0.012] : [Math.sqrt(0.00085), Math.sqrt(0.012)]
      const f32: number[] = []
      let product = 1
      for (let t = 0; t < T; t++) {
        const root = Math.fround(Math.fround(s) + Math.fround((Math.fround(e - s) * t) / (T - 1)))
        const beta = schedule === 'linear' ? root : Math.fround(root * root)
        product = Math.fround(product * Math.fround(1 - beta))
        f32.push(product)
      }
      expectClose(alphasCumprod({ beta_schedule: schedule }), f32, 5e-6)
    }
  })

  it('uses trained_betas when given, ignoring beta_schedule', () => {
    const betas = [0.1, 0.2, 0.3]
    const ab = alphasCumprod({ trained_betas: betas, beta_schedule: 'nonsense' })
    expectClose(ab, [0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.7], 1e-15)
    expect(alphasCumprod({ trained_betas: Float32Array.from(betas), num_train_timesteps: 3 }).length).toBe(3)
    expect(alphasCumprod({ trained_betas: null })).toEqual(alphasCumprod())
  })

  it('rejects an unknown beta_schedule, naming it', () => {
    expect(() => alphasCumprod({ beta_schedule: 'exponential' })).toThrow(
      'unsupported beta_schedule "exponential"; expected one of linear, scaled_linear, squaredcos_cap_v2',
    )
  })

  it.each([
    [{ num_train_timesteps: 0 }, 'num_train_timesteps must be an integer in [1, 100000]'],
    [{ num_train_timesteps: 10.5 }, 'num_train_timesteps must be an integer in [1, 100000]'],
    [{ beta_start: -0.1 }, 'beta_start must be a number in [0, 1)'],
    [{ beta_end: 1 }, 'beta_end must be a number in [0, 1)'],
    [{ beta_end: Number.NaN }, 'beta_end must be a number in [0, 1)'],
    [{ trained_betas: [] }, 'trained_betas must have 1 to 100000 entries'],
    [{ trained_betas: [0.1, 1.5] }, 'trained_betas[1] must be a number in [0, 1)'],
    [
      { trained_betas: [0.1, 0.2], num_train_timesteps: 1000 },
      'trained_betas has 2 entries but num_train_timesteps is 1000',
    ],
    [{ rescale_betas_zero_snr: true }, /rescale_betas_zero_snr is not supported/],
  ] as const)('rejects %j', (config, message) => {
    expect(() => alphasCumprod(config)).toThrow(message)
  })
})

describe('alphaBarAt', () => {
  it('reads ᾱ at a timestep and names the valid range otherwise', () => {
    const ab = alphasCumprod()
    expect(alphaBarAt(ab, 999)).toBe(ab[999])
    expect(alphaBarAt(ab, 0)).toBe(ab[0])
    for (const t of [-1, 1000, 2.5, Number.NaN]) {
      expect(() => alphaBarAt(ab, t)).toThrow('timestep must be an integer in [0, 999]')
    }
  })
})
