import { z } from 'zod'
// Upstream answers are parsed with the contract's schema, not trusted: a malformed list is an upstream error, not a 500.
import { modelListSchema, type ModelList } from '@snoopi/gpu-service/contract/model-card'
import type { EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { callGpuService } from '../upstream/gpu-client.ts'

/** How long an isolate reuses a model list whose models are all ready, seconds. */
export const MODEL_LIST_TTL_SECONDS = 30
/** How long it reuses one with a model still loading: short, so `ready` shows soon after it turns true. */
export const LOADING_MODEL_LIST_TTL_SECONDS = 2

interface Entry {
  gpuUrl: string
  list: Promise<ModelList>
  /** Epoch ms; Infinity while the call is in flight (concurrent requests share it). */
  expiresAt: number
}

/**
 * The model list, cached per isolate: `/v1/models` is public, and each answer used to cost a signed
 * GPU call, so anyone could turn requests into GPU-tier load. One call at a time is made, shared by
 * the requests that arrive meanwhile; a list is then kept `MODEL_LIST_TTL_SECONDS` (or
 * `LOADING_MODEL_LIST_TTL_SECONDS` while a model is loading). A failure is never kept: the next
 * request asks again.
 *
 * @example const { list, maxAgeSeconds } = await modelCatalog.list(config, requestId)
 */
export class ModelCatalog {
  readonly #now: () => number
  #entry: Entry | undefined

  constructor(now: () => number = () => Date.now()) {
    this.#now = now
  }

  async list(config: EdgeConfig, requestId: string): Promise<{ list: ModelList; maxAgeSeconds: number }> {
    let entry = this.#entry
    if (!entry || entry.gpuUrl !== config.GPU_SERVICE_URL || entry.expiresAt <= this.#now()) entry = this.#refresh(config, requestId)
    const list = await entry.list
    return { list, maxAgeSeconds: Math.max(0, Math.ceil((entry.expiresAt - this.#now()) / 1000)) }
  }

  /** Drops the cached list (tests; a deploy starts new isolates anyway). */
  forget(): void {
    this.#entry = undefined
  }

  #refresh(config: EdgeConfig, requestId: string): Entry {
    const entry: Entry = { gpuUrl: config.GPU_SERVICE_URL, list: fetchModelList(config, requestId), expiresAt: Number.POSITIVE_INFINITY }
    this.#entry = entry
    entry.list.then(
      (list) => {
        const ttl = list.data.every((model) => model.ready) ? MODEL_LIST_TTL_SECONDS : LOADING_MODEL_LIST_TTL_SECONDS
        entry.expiresAt = this.#now() + ttl * 1000
      },
      () => {
        if (this.#entry === entry) this.#entry = undefined
      },
    )
    return entry
  }
}

/** The isolate's catalog. */
export const modelCatalog = new ModelCatalog()

async function fetchModelList(config: EdgeConfig, requestId: string): Promise<ModelList> {
  const response = await callGpuService(config, { method: 'GET', path: '/internal/models', requestId })
  const parsed = modelListSchema.safeParse(await response.json().catch(() => undefined))
  if (!parsed.success) {
    throw new ApiError(502, {
      code: 'upstream_error',
      message: 'the image service sent an unexpected answer',
      internal: `GET /internal/models: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`,
    })
  }
  return parsed.data
}
