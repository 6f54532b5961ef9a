import { formatSize, type ImageSize, type ModelBundle } from '../bundle/load/model-bundle.ts'
import type { OutputFormat } from '../contract/limits.ts'
import type { CallMode, GenerationRequest, ResolvedGuidance } from './generation-request.ts'

/** One image of a batch: its prompt, seed and (when it has one) negative prompt with its guidance. */
export interface ImageRow {
  readonly prompt: string
  readonly seed: bigint
  /** undefined: a plain image (its guidance is `none`). */
  readonly negative: string | undefined
  readonly guidance: ResolvedGuidance
}

/**
 * What the pipeline runs in one call: the images of one or more validated requests that share a size,
 * an output format and a UNet graph (requests without a negative prompt may ride along in a guided
 * batch: their rows turn the guidance off). Built by `batchOf`, run by `pipeline.run(batch)`.
 */
export interface Batch {
  readonly size: ImageSize
  readonly outputFormat: OutputFormat
  /** The graph for the rows with a negative prompt; `none` when no row has one. */
  readonly mode: CallMode
  /** Every image of every request, in request order. */
  readonly rows: readonly ImageRow[]
}

/** Requests with the same key may share a batch (the batcher groups by it). */
export const batchKey = (request: GenerationRequest): string => `${formatSize(request.size)}|${request.mode}|${request.outputFormat}`

/**
 * One batch of validated requests, in order. The requests must share size, format and guided graph
 * (the batcher only groups requests of one key); anything else is a bug, not bad input.
 */
export function batchOf(requests: readonly GenerationRequest[]): Batch {
  const first = requests[0]
  if (!first) throw new Error('a batch needs at least one request')
  const modes = new Set(requests.map((r) => r.mode).filter((m) => m !== 'none'))
  if (modes.size > 1) throw new Error(`a batch runs one guidance mode for its negative prompts, got ${[...modes].join(' and ')}`)
  for (const r of requests) {
    if (formatSize(r.size) !== formatSize(first.size) || r.outputFormat !== first.outputFormat) {
      throw new Error(`a batch has one size and format, got ${formatSize(first.size)} ${first.outputFormat} and ${formatSize(r.size)} ${r.outputFormat}`)
    }
  }
  return {
    size: first.size,
    outputFormat: first.outputFormat,
    mode: [...modes][0] ?? 'none',
    rows: requests.flatMap((r) => r.seeds.map((seed) => ({ prompt: r.prompt, seed, negative: r.negativePrompt, guidance: r.guidance }))),
  }
}

export interface GeneratedImage {
  data: Uint8Array
  contentType: string
  seed: bigint
  width: number
  height: number
  /** Prompt tokens past CLIP's 75 that were cut. */
  droppedTokens: number
}

/** Milliseconds per stage of one call. */
export interface StageTimings {
  tokenize: number
  textEncoder: number
  unet: number
  vae: number
  encode: number
  total: number
}

/** The images of a batch, one per row and in row order, with the call's stage timings. */
export interface BatchResult {
  images: GeneratedImage[]
  timings: StageTimings
}

/** What runs a batch: the PipelineWorker in the service, the pipeline itself in tests, the CLI and benchmarks. */
export interface BatchRunner {
  readonly bundle: ModelBundle
  run(batch: Batch): Promise<BatchResult>
}
