// Test support: what the synchronous route did before the coordinator charged its leader, for tests
// that stand in for a generating route (the product charges in generation-coordinator.ts).
import type { Admission } from '../accounts/admission.ts'
import { ApiError } from '../errors/api-error.ts'
import { reportImages, type RateLimitedContext } from '../middleware/rate-limit/index.ts'

/** Takes `n` images from the key's daily budget and reports them in the rate-limit headers (429 when spent). */
export async function chargeImages(c: RateLimitedContext, n: number): Promise<Admission> {
  const admission = await c.get('account').stub.consumeImages(n, c.get('admission')?.slot)
  if (!admission) throw new ApiError(401, { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' })
  reportImages(c, admission, n)
  return admission
}
