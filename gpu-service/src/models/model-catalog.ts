import { formatSize, nasaSettings } from '../bundle/model-bundle.ts'
import type { ImageService } from '../service/image-service.ts'

/** One entry of `GET /v1/models`, in the OpenAI list shape plus what clients need to call us. */
export interface ModelCard {
  id: string
  object: 'model'
  created: number
  owned_by: 'snoopi'
  /** True once the bundle is loaded and warmed up. */
  ready: boolean
  display_name?: string
  version?: string
  sizes?: string[]
  /** α of the default NASA form (with projection when `default_nasa_projection`). */
  default_nasa_alpha?: number
  default_nasa_projection?: boolean
}

/** What the service knows about the model it serves; `service` (and with it the bundle) is set once it has loaded. */
export interface ServedModel {
  id: string
  loadedAt: Date | undefined
  service?: ImageService | undefined
  /** Set on SIGTERM: /readyz turns 503 so load balancers stop sending work. */
  draining?: boolean
}

export function modelCard(model: ServedModel, startedAt: Date): ModelCard {
  const card: ModelCard = {
    id: model.id,
    object: 'model',
    created: Math.floor((model.loadedAt ?? startedAt).getTime() / 1000),
    owned_by: 'snoopi',
    ready: model.service !== undefined,
  }
  const bundle = model.service?.bundle
  if (bundle) {
    card.display_name = bundle.displayName
    card.version = bundle.version
    card.sizes = bundle.sizes.map(formatSize)
    const nasa = nasaSettings(bundle)
    card.default_nasa_projection = nasa.projection
    card.default_nasa_alpha = nasa.alpha
  }
  return card
}
