import { describe, expect, it } from 'vitest'
import { Xoshiro256StarStar } from './xoshiro256.ts'

// An independent, deliberately plain BigInt transcription of the reference C code
// (prng.di.unimi.it/splitmix64.c and xoshiro256starstar.c).
const MASK = (1n << 64n) - 1n

function referenceSplitMix64(seed: bigint): () => bigint {
  let x = seed
  return () => {
    x = (x + 0x9e3779b97f4a7c15n) & MASK
    let z = x
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK
    return z ^ (z >> 31n)
  }
}

function referenceXoshiro(seed: bigint): () => bigint {
  const splitMix = referenceSplitMix64(seed)
  const s = [splitMix(), splitMix(), splitMix(), splitMix()]
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (64n - k))) & MASK
  return () => {
    const [s0 = 0n, s1 = 0n, s2 = 0n, s3 = 0n] = s
    const result = (rotl((s1 * 5n) & MASK, 7n) * 9n) & MASK
    const t = (s1 << 17n) & MASK
    const n2 = s2 ^ s0
    const n3 = s3 ^ s1
    s[1] = s1 ^ n2
    s[0] = s0 ^ n3
    s[2] = n2 ^ t
    s[3] = rotl(n3, 45n)
    return result
  }
}

const SEEDS = [0n, 1n, 42n, 0xffffffffn, 0x100000000n, 1n << 63n, MASK]

describe('reference implementation (sanity of the test oracle)', () => {
  it('SplitMix64 matches the published sequence for seed 1234567', () => {
    const next = referenceSplitMix64(1234567n)
    expect([next(), next(), next(), next(), next()]).toEqual([
      6457827717110365317n,
      3203168211198807973n,
      9817491932198370423n,
      4593380528125082431n,
      16408922859458223821n,
    ])
  })
})

describe('Xoshiro256StarStar', () => {
  it('matches outputs of the reference C code compiled with gcc', () => {
    // Printed by the reference xoshiro256starstar.c seeded with splitmix64.c (state = 4 SplitMix64 draws).
    const cases: [bigint, bigint[]][] = [
      [0n, [11091344671253066420n, 13793997310169335082n, 1900383378846508768n, 7684712102626143532n]],
      [42n, [1546998764402558742n, 6990951692964543102n, 12544586762248559009n, 17057574109182124193n]],
      [MASK, [10328197420357168392n, 14156678507024973869n, 9357971779955476126n, 13791585006304312367n]],
    ]
    for (const [seed, expected] of cases) {
      const rng = new Xoshiro256StarStar(seed)
      expect(expected.map(() => rng.nextUint64())).toEqual(expected)
    }
  })

  it.each(SEEDS)('agrees with the BigInt reference for 2000 outputs of seed %s', (seed) => {
    const rng = new Xoshiro256StarStar(seed)
    const reference = referenceXoshiro(seed)
    for (let i = 0; i < 2000; i++) expect(rng.nextUint64()).toBe(reference())
  })

  it('takes the top 53 bits for uniform doubles in [0, 1)', () => {
    for (const seed of SEEDS) {
      const rng = new Xoshiro256StarStar(seed)
      const reference = referenceXoshiro(seed)
      for (let i = 0; i < 200; i++) {
        const top53 = reference() >> 11n
        const mode = i % 2
        if (mode === 0) expect(rng.nextUint53()).toBe(Number(top53))
        else expect(rng.nextDouble()).toBe(Number(top53) / 2 ** 53)
      }
    }
    // Known answers for seed 42: ⌊out / 2^11⌋ / 2^53 of the C outputs above.
    const rng = new Xoshiro256StarStar(42n)
    expect(rng.nextDouble()).toBe(Number(1546998764402558742n >> 11n) / 2 ** 53)
    expect(rng.nextDouble()).toBe(Number(6990951692964543102n >> 11n) / 2 ** 53)
  })

  it('treats number and bigint seeds alike', () => {
    const a = new Xoshiro256StarStar(123456789)
    const b = new Xoshiro256StarStar(123456789n)
    for (let i = 0; i < 10; i++) expect(a.nextUint64()).toBe(b.nextUint64())
  })
})
