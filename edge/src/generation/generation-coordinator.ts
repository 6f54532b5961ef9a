import { DurableObject } from 'cloudflare:workers'
import { accountStubById, type KeyAccountStub } from '../accounts/account-stub.ts'
import type { Admission } from '../accounts/admission.ts'
import { ImageStore, IMAGE_EXTENSIONS, type GenerationManifest, type ImageExtension } from '../cache/image-store.ts'
import { edgeConfig, type EdgeBindings } from '../config/edge-config.ts'
import { ApiError, type ErrorType } from '../errors/api-error.ts'
import type { GenerateBodyInput } from '@snoopi/gpu-service/contract/generate-body'
import { requestImages } from '../upstream/generated-images.ts'

/** What a miss needs generated: the request hash, the GPU call, where the images go, and who pays. */
export interface GenerationJob {
  hash: string
  /** The GPU service's `POST /internal/generate` body (the contract's type; the upstream client serialises it). */
  upstream: GenerateBodyInput
  model: string
  version: string
  imageIds: string[]
  ext: ImageExtension
  /** `Cache-Control: no-cache` (or an equivalent): regenerate even if a manifest exists. */
  force: boolean
  requestId: string
  /**
   * The key charged `imageIds.length` images if this job leads a generation: its account's Durable
   * Object id (`stub.id.toString()`) and the request's concurrency slot (so that an images refusal
   * also gives the request's token back, see `KeyAccount.consumeImages`). `{ prepaid: true }`: a
   * generation job, charged when it was enqueued and settled by its own Durable Object (kept on a
   * `MISS`, refunded otherwise), so the coordinator neither charges nor refunds it.
   */
  payer: { account: string; slot?: string } | { prepaid: true }
}

/**
 * RPC-safe outcome (an ApiError's class does not survive the RPC boundary, so it travels as data).
 * `images` is the payer's images quota after this job: the charge of a leader that generated, the
 * refusal of one that could not pay, or the quota after the refund of a failed generation. It is
 * absent when this job was not charged (a follower, or a manifest that appeared meanwhile).
 */
export type GenerationOutcome =
  | { ok: true; manifest: GenerationManifest; generated: boolean; coalesced: boolean; images?: Admission }
  | {
      ok: false
      status: number
      type: ErrorType
      code: string
      message: string
      headers: Record<string, string>
      images?: Admission
      /** The leader's own key could not pay: nothing was generated, and it says nothing about followers. */
      chargeRefused?: boolean
    }

type Failure = Extract<GenerationOutcome, { ok: false }>

/**
 * One Durable Object per request hash (`GENERATIONS.idFromName(hash)`): identical misses that arrive
 * while one is being generated all await the same upstream call instead of making their own. The
 * images are written to R2 (images first, manifest last) before anyone is answered.
 *
 * Only the leader pays: it is charged its images (`consumeImages`) once no manifest exists and just
 * before the GPU call, and refunded if the generation fails. A prepaid leader (a job, which paid at
 * enqueue) is neither charged nor refunded here: its job settles what it paid from the outcome. A follower — a job that arrives while
 * one is in flight — is neither charged nor given the leader's quota. If the leader's key cannot
 * pay, nothing was generated: its followers do not inherit its 429, the next of them leads instead.
 */
export class GenerationCoordinator extends DurableObject<EdgeBindings> {
  private inflight: Promise<GenerationOutcome> | undefined

  async generate(job: GenerationJob): Promise<GenerationOutcome> {
    for (;;) {
      const current = this.inflight
      if (!current) return this.lead(job)
      const shared = await current
      if (shared.ok) return { ok: true, manifest: shared.manifest, generated: false, coalesced: true }
      if (shared.chargeRefused) continue
      const { status, type, code, message, headers } = shared
      return { ok: false, status, type, code, message, headers }
    }
  }

  /** Starts the job's generation; identical jobs arriving until it settles follow it. */
  private lead(job: GenerationJob): Promise<GenerationOutcome> {
    const attempt: Promise<GenerationOutcome> = this.run(job).finally(() => {
      if (this.inflight === attempt) this.inflight = undefined
    })
    this.inflight = attempt
    return attempt
  }

  private async run(job: GenerationJob): Promise<GenerationOutcome> {
    const payer = 'prepaid' in job.payer ? null : accountStubById(this.env, job.payer.account)
    const slot = 'prepaid' in job.payer ? undefined : job.payer.slot
    const n = job.imageIds.length
    let charged = false
    try {
      const config = edgeConfig(this.env)
      if (!config.ok) throw new ApiError(500, { code: 'misconfigured', message: 'the service is misconfigured', internal: config.problems.join('; ') })
      if (!IMAGE_EXTENSIONS.includes(job.ext)) throw new ApiError(500, { code: 'internal_error', message: 'internal error', internal: `bad ext ${job.ext}` })
      const store = new ImageStore(this.env.IMAGES)
      if (!job.force) {
        // A request that finished just before this one arrived left its manifest behind: free, like a hit.
        const existing = await store.getManifest(job.hash)
        if (existing) return { ok: true, manifest: existing, generated: false, coalesced: false }
      }
      let charge: Admission | undefined
      if (payer) {
        const taken = await payer.consumeImages(n, slot)
        if (!taken) return { ...failure(keyGone()), chargeRefused: true }
        if (!taken.allowed) return { ...failure(quotaRefused()), images: taken, chargeRefused: true }
        charge = taken
        charged = true
      }
      const images = await requestImages(config.config, job.upstream, job.requestId)
      const manifest = await store.putGeneration(
        job.hash,
        { created: Math.floor(Date.now() / 1000), model: job.model, version: job.version },
        images.map((image, i) => ({ id: job.imageIds[i] as string, ext: job.ext, bytes: image.bytes, contentType: image.contentType, seed: image.seed, droppedTokens: image.droppedTokens })),
      )
      return charge ? { ok: true, manifest, generated: true, coalesced: false, images: charge } : { ok: true, manifest, generated: true, coalesced: false }
    } catch (error) {
      const failed = failure(error, job.requestId)
      // The leader gets an error, so the images it was charged for are given back.
      if (charged && payer) return withRefund(failed, await refund(payer, n, job.requestId))
      return failed
    }
  }
}

function withRefund(failed: Failure, images: Admission | null): Failure {
  return images ? { ...failed, images } : failed
}

async function refund(payer: KeyAccountStub, n: number, requestId: string): Promise<Admission | null> {
  try {
    return await payer.refundImages(n)
  } catch (error) {
    console.error(`[${requestId}] refunding ${n} images failed:`, error)
    return null
  }
}

function keyGone(): ApiError {
  return new ApiError(401, { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided.', internal: 'key revoked mid-request' })
}

/** The route words the client's message from `images` (see `reportImages`); this is the fallback. */
function quotaRefused(): ApiError {
  return new ApiError(429, { type: 'rate_limit_error', code: 'image_quota_exceeded', message: 'Daily image quota reached for this API key.' })
}

function failure(error: unknown, requestId?: string): Failure {
  if (error instanceof ApiError) {
    if (error.internal && requestId) console.warn(`[${requestId}] ${error.code}: ${error.internal}`)
    return { ok: false, status: error.status, type: error.type, code: error.code, message: error.message, headers: error.headers }
  }
  console.error(`[${requestId}] generation failed:`, error)
  return { ok: false, status: 500, type: 'server_error', code: 'internal_error', message: 'internal error', headers: {} }
}
