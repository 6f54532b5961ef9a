import { formatSize, nasaSettings } from './model-bundle.ts'
import type { ModelCard } from '../../contract/model-card.ts'
import type { ImageService } from '../../service/image-service.ts'

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
