import { parseSeed } from '../diffusion/seed.ts'
import { formatSize, type ImageSize, type ModelBundle } from '../bundle/model-bundle.ts'

import { IMAGE_FORMATS, type ImageFormat } from '../imaging/encode-image.ts'

export type OutputFormat = ImageFormat
export const outputFormats: readonly OutputFormat[] = IMAGE_FORMATS

/** Longest prompt accepted, in characters (CLIP reads 75 tokens; anything past that is dropped and reported). */
export const MAX_PROMPT_CHARS = 2000
/** Most images in one pipeline call. */
export const MAX_BATCH = 16

/** One pipeline call: image i uses prompts[i] and seeds[i]. */
export interface GenerateRequest {
  prompts: string[]
  seeds: (bigint | number)[]
  /** Default: the bundle's first size. */
  size?: ImageSize
  /** Default png. */
  outputFormat?: OutputFormat
}

export interface ValidRequest {
  prompts: string[]
  seeds: bigint[]
  size: ImageSize
  outputFormat: OutputFormat
}

/** Bad input from the caller (a 400 in the HTTP API, exit code 2 in the CLI). */
export class PipelineInputError extends Error {
  override name = 'PipelineInputError'
}

/** Checks a request against the bundle before any model runs. */
export function validateRequest(bundle: ModelBundle, request: GenerateRequest): ValidRequest {
  const fail = (message: string): never => {
    throw new PipelineInputError(message)
  }
  const { prompts, seeds } = request
  if (!Array.isArray(prompts) || prompts.length === 0) fail('at least one prompt is required')
  if (prompts.length > MAX_BATCH) fail(`at most ${MAX_BATCH} images per call, got ${prompts.length}`)
  if (!Array.isArray(seeds) || seeds.length !== prompts.length) fail(`need one seed per prompt (${prompts.length}), got ${seeds?.length ?? 0}`)
  prompts.forEach((prompt, i) => {
    if (typeof prompt !== 'string' || prompt.trim() === '') fail(`prompt ${i} is empty`)
    if (prompt.length > MAX_PROMPT_CHARS) fail(`prompt ${i} is ${prompt.length} characters; the limit is ${MAX_PROMPT_CHARS}`)
  })
  const parsedSeeds = seeds.map((seed) => {
    try {
      return parseSeed(seed)
    } catch (error) {
      return fail((error as Error).message)
    }
  })
  const size = request.size ?? bundle.sizes[0]
  if (!size) return fail('the model bundle lists no sizes')
  const f = bundle.vaeScaleFactor
  if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || size.width % f || size.height % f || size.width <= 0 || size.height <= 0) {
    fail(`size ${formatSize(size)} must be positive multiples of ${f}`)
  }
  if (!bundle.sizes.some((s) => s.width === size.width && s.height === size.height)) {
    fail(`size ${formatSize(size)} is not offered by this model; allowed: ${bundle.sizes.map(formatSize).join(', ')}`)
  }
  const outputFormat = request.outputFormat ?? 'png'
  if (!outputFormats.includes(outputFormat)) fail(`output format must be one of ${outputFormats.join(', ')}`)
  return { prompts, seeds: parsedSeeds, size, outputFormat }
}
