import { MAX_SEED } from '@snoopi/gpu-service/contract/limits'
import { ApiError } from '../errors/api-error.ts'

/** What the seeds of a request depend on: the client's seed (decimal) if it gave one, and the image count. */
export interface SeedSource {
  seed?: string
  n: number
}

/**
 * A client's seed (a safe-integer number or a decimal string, as the request schema admits) as a
 * bigint; above 2^64 − 1 is a 400.
 *
 * @example parseClientSeed('18446744073709551615') // 18446744073709551615n
 */
export function parseClientSeed(seed: number | string): bigint {
  const value = BigInt(seed)
  if (value < 0n || value > MAX_SEED) throw seedError('seed must be an integer from 0 to 2^64-1')
  return value
}

/**
 * Rejects a client seed whose batch would run past 2^64 − 1 (image i uses seed + i, and wrapping
 * around would silently give a different image than the client asked for): a 400 `invalid_seed`.
 *
 * @example checkSeedRange(MAX_SEED, 2) // throws ApiError 400
 */
export function checkSeedRange(seed: bigint, n: number): void {
  if (seed + BigInt(n - 1) > MAX_SEED) {
    throw seedError(`with n = ${n} the seed must be at most 2^64-${n} (image i uses seed + i)`)
  }
}

/**
 * The first seed of a request: the client's, else the first 8 bytes of the request hash read as an
 * unsigned 64-bit big-endian integer, so the same request always gives the same images. A derived
 * seed too close to 2^64 for its batch (a chance of (n − 1) in 2^64) is lowered to 2^64 − n rather
 * than wrapped, so every image of the batch stays in range.
 *
 * @example seedFor(canonical, hash) // 11259375n for a hash starting with 0000000000abcdef
 */
export function seedFor(canonical: SeedSource, hash: string): bigint {
  if (canonical.seed !== undefined) return BigInt(canonical.seed)
  if (!/^[0-9a-f]{16}/.test(hash)) throw new Error('the request hash must be lowercase hex')
  const derived = BigInt(`0x${hash.slice(0, 16)}`)
  const highest = MAX_SEED - BigInt(canonical.n - 1)
  return derived > highest ? highest : derived
}

/** The seed of each image: seedFor(…) + i for i in 0 … n − 1. */
export function imageSeeds(canonical: SeedSource, hash: string): bigint[] {
  const first = seedFor(canonical, hash)
  checkSeedRange(first, canonical.n)
  return Array.from({ length: canonical.n }, (_, i) => first + BigInt(i))
}

function seedError(message: string): ApiError {
  return new ApiError(400, { code: 'invalid_seed', message })
}
