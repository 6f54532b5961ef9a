import type { ServiceConfig } from '../config/service-config.ts'

/** One entry of `GET /v1/models`, in the OpenAI list shape plus our readiness flag. */
export interface ModelCard {
  id: string
  object: 'model'
  created: number
  owned_by: 'snoopi'
  /** True once the model's bundle is loaded and warmed up. */
  ready: boolean
}

/**
 * The models this process serves. Until the inference core loads a bundle, the configured model is
 * listed as not ready, so callers can tell "configured" from "able to generate".
 */
export function modelCatalog(config: Pick<ServiceConfig, 'MODEL_ID'>, startedAt: Date): ModelCard[] {
  return [
    {
      id: config.MODEL_ID,
      object: 'model',
      created: Math.floor(startedAt.getTime() / 1000),
      owned_by: 'snoopi',
      ready: false,
    },
  ]
}
