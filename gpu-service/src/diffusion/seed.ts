import { MAX_SEED } from '../contract/limits.ts'

/** Seeds are unsigned 64-bit integers (the contract's range), so any u64 a client got from another tool is accepted. */
export { MAX_SEED }

/**
 * Validates a seed and returns it as a bigint.
 *
 * A `number` must be a safe integer (≤ 2^53 − 1): a larger one may already have been rounded on the way
 * in (JSON.parse does that silently), which would give a different image for the "same" seed, so larger
 * seeds must arrive as bigints.
 */
export function parseSeed(seed: bigint | number): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MAX_SEED) throw new Error('seed must be an integer in [0, 2^64-1]')
    return seed
  }
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) {
    throw new Error('seed must be an integer in [0, 2^64-1]')
  }
  if (!Number.isSafeInteger(seed)) {
    throw new Error('seed above 2^53-1 must be passed as a bigint (a number cannot hold it exactly)')
  }
  return BigInt(seed)
}
