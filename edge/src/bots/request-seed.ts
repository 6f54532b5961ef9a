import { generationRequestSchema } from '../api/generation-schema.ts'
import { canonicalRequest } from '../cache/canonical-request.ts'
import { requestHash } from '../cache/request-keys.ts'
import { seedFor } from '../cache/request-seed.ts'
import type { EdgeConfig } from '../config/edge-config.ts'
import type { ImagineRequest } from './imagine-command.ts'

/**
 * The seed a bot request's image got: its own, or the one the edge derives from the request (the
 * same derivation as every generation: the request hash's first 64 bits), so "Re-roll" can ask for
 * the next one and "Without…" can keep it.
 */
export async function effectiveSeed(config: Pick<EdgeConfig, 'MODELS' | 'CACHE_KEY_SECRET'>, request: ImagineRequest): Promise<bigint> {
  if (request.seed !== undefined) return BigInt(request.seed)
  const model = config.MODELS[0]
  if (!model) throw new Error('effectiveSeed: no model configured')
  const canonical = canonicalRequest(generationRequestSchema.parse(request), model)
  return seedFor(canonical, await requestHash(config.CACHE_KEY_SECRET, canonical))
}
