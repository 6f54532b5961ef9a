import { DEFAULT_BUNDLE_DIR } from '@snoopi/gpu-service/bundle/load/default-bundle'
import { formatSize, loadBundle } from '@snoopi/gpu-service/bundle/load/model-bundle'

/**
 * The edge's `MODELS` for the bundle the local GPU service is about to serve. The edge caches images
 * under a model's version (part of the cache key), so it must name the version really served: after
 * `npm run train:default` installs a new default bundle, or with `MODEL_DIR` set, wrangler.toml's
 * entry would name another model (and the GPU tier refuses such requests with 409).
 *
 * `env` is what the GPU service sees, `edgeVars` the .dev.vars wrangler reads. Undefined when
 * `MODELS` is set in .dev.vars (the user's choice wins), when the bundle comes from S3 (not known
 * before it is downloaded), or when the bundle does not load (the GPU service then says why).
 */
export function servedModels(env: Record<string, string | undefined>, edgeVars: Record<string, string> = {}): { models: string; version: string } | undefined {
  if (edgeVars.MODELS || env.MODEL_S3_URI) return undefined
  let bundle
  try {
    bundle = loadBundle(env.MODEL_DIR || DEFAULT_BUNDLE_DIR)
  } catch {
    return undefined
  }
  const entry = { id: env.MODEL_ID || 'snoopi-default', version: bundle.version, sizes: bundle.sizes.map(formatSize) }
  return { models: JSON.stringify([entry]), version: bundle.version }
}
