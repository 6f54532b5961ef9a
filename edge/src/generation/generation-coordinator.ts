import { DurableObject } from 'cloudflare:workers'
import { ImageStore, IMAGE_EXTENSIONS, type GenerationManifest, type ImageExtension } from '../cache/image-store.ts'
import { edgeConfig, type EdgeBindings } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { callGpuService } from '../upstream/gpu-client.ts'
import { readGeneratedImages } from '../upstream/generated-images.ts'

/** What a miss needs generated: the request hash, the GPU call, and where the images go. */
export interface GenerationJob {
  hash: string
  /** JSON body of the GPU service's POST /internal/generate. */
  upstreamBody: string
  model: string
  version: string
  imageIds: string[]
  ext: ImageExtension
  /** `Cache-Control: no-cache`: regenerate even if a manifest exists. */
  force: boolean
  requestId: string
}

/** RPC-safe outcome (an ApiError's class does not survive the RPC boundary, so it travels as data). */
export type GenerationOutcome =
  | { ok: true; manifest: GenerationManifest; generated: boolean; coalesced: boolean }
  | { ok: false; status: number; code: string; message: string; headers: Record<string, string> }

/**
 * One Durable Object per request hash (`GENERATIONS.idFromName(hash)`): identical misses that arrive
 * while one is being generated all await the same upstream call instead of making their own. The
 * images are written to R2 (images first, manifest last) before anyone is answered.
 */
export class GenerationCoordinator extends DurableObject<EdgeBindings> {
  private inflight: Promise<GenerationOutcome> | undefined

  async generate(job: GenerationJob): Promise<GenerationOutcome> {
    if (this.inflight) {
      const shared = await this.inflight
      return shared.ok ? { ...shared, coalesced: true } : shared
    }
    this.inflight = this.run(job).finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  private async run(job: GenerationJob): Promise<GenerationOutcome> {
    try {
      const config = edgeConfig(this.env)
      if (!config.ok) throw new ApiError(500, { code: 'misconfigured', message: 'the service is misconfigured', internal: config.problems.join('; ') })
      if (!IMAGE_EXTENSIONS.includes(job.ext)) throw new ApiError(500, { code: 'internal_error', message: 'internal error', internal: `bad ext ${job.ext}` })
      const store = new ImageStore(this.env.IMAGES)
      if (!job.force) {
        // A request that finished just before this one arrived left its manifest behind.
        const existing = await store.getManifest(job.hash)
        if (existing) return { ok: true, manifest: existing, generated: false, coalesced: false }
      }
      const response = await callGpuService(config.config, { method: 'POST', path: '/internal/generate', body: job.upstreamBody, requestId: job.requestId })
      const images = await readGeneratedImages(response, job.imageIds.length)
      const manifest = await store.putGeneration(
        job.hash,
        { created: Math.floor(Date.now() / 1000), model: job.model, version: job.version },
        images.map((image, i) => ({ id: job.imageIds[i] as string, ext: job.ext, bytes: image.bytes, contentType: image.contentType, seed: image.seed })),
      )
      return { ok: true, manifest, generated: true, coalesced: false }
    } catch (error) {
      if (error instanceof ApiError) {
        if (error.internal) console.warn(`[${job.requestId}] ${error.code}: ${error.internal}`)
        return { ok: false, status: error.status, code: error.code, message: error.message, headers: error.headers }
      }
      console.error(`[${job.requestId}] generation failed:`, error)
      return { ok: false, status: 500, code: 'internal_error', message: 'internal error', headers: {} }
    }
  }
}
