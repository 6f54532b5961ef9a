import { formatSize, nasaSettings, type ImageSize, type ModelBundle } from '../bundle/load/model-bundle.ts'
import { guidanceProblem } from '../contract/generate-body.ts'
import { CFG_DEFAULT_SCALE, GUIDANCE_MODES, MAX_PROMPT_CHARS, NAG_DEFAULTS, OUTPUT_FORMATS, type GuidanceMode, type OutputFormat } from '../contract/limits.ts'
import { parseSeed } from '../diffusion/seed.ts'
import { InvalidRequestError } from '../service/service-error.ts'

export type { GuidanceMode, OutputFormat }

/** Most images in one request, and in one pipeline call (the batcher's limit is at most this). */
export const MAX_BATCH = 16

/**
 * The guidance a caller asks for. How a negative prompt acts:
 * - `nasa` (default): Z+ − α·Z− in every cross-attention (SNOOPI); `alpha` defaults to the bundle's;
 *   with `projection`, Z+ − α·max(0, ⟨Z+, Z−⟩/‖Z−‖²)·Z− per token instead (each token loses only what
 *   points along the negative branch) — the default for bundles whose snoopi.json gives
 *   `nasa_projection_alpha`;
 * - `nag`: normalised attention guidance with `scale` φ, `tau` τ, `alpha`;
 * - `cfg`: classifier-free guidance on the one-step output, ε− + scale·(ε+ − ε−) (a baseline: two UNet
 *   rows per image);
 * - `none`: ignore the negative prompt.
 */
export interface GuidanceSpec {
  mode?: GuidanceMode | undefined
  /** NASA α (0 … 2) or NAG α (0 … 1). */
  alpha?: number | undefined
  /** NASA with projection (default: whether the bundle gives `nasa_projection_alpha`). */
  projection?: boolean | undefined
  /** NAG φ (1 … 20) or CFG scale (1 … 20). */
  scale?: number | undefined
  /** NAG τ (1 … 10). */
  tau?: number | undefined
}

/** Guidance with every value checked and every default filled in from the contract and the bundle. */
export type ResolvedGuidance =
  | { mode: 'none' }
  | { mode: 'nasa'; alpha: number; projection: boolean }
  | { mode: 'nag'; scale: number; tau: number; alpha: number }
  | { mode: 'cfg'; scale: number }

/** The UNet graph a call runs: the guidance mode, with NASA's two forms apart (two rewritten graphs). */
export type CallMode = GuidanceMode | 'nasa-proj'

export const callMode = (g: ResolvedGuidance): CallMode => (g.mode === 'nasa' && g.projection ? 'nasa-proj' : g.mode)

/**
 * What a caller asks for, unchecked: `n` images of one prompt, image i with seed `seed + i`. The HTTP
 * route builds it from the parsed body, the CLI from its options; `validateGeneration` checks it.
 */
export interface GenerationInput {
  prompt: string
  negativePrompt?: string | undefined
  /** Images, 1 … MAX_BATCH (default 1). */
  n?: number | undefined
  seed: bigint | number
  /** Default: the bundle's first size. */
  size?: ImageSize | undefined
  /** Default png. */
  outputFormat?: OutputFormat | undefined
  guidance?: GuidanceSpec | undefined
}

/**
 * A request checked against the loaded bundle: the one form every layer below the HTTP route and the
 * CLI takes (service → batcher → worker → pipeline), none of which checks it again.
 */
export interface GenerationRequest {
  readonly prompt: string
  /** Absent when the caller gave none, gave only blanks, or asked for guidance `none`. */
  readonly negativePrompt: string | undefined
  /** `{ mode: 'none' }` exactly when there is no negative prompt. */
  readonly guidance: ResolvedGuidance
  /** One per image: seed, seed + 1, … */
  readonly seeds: readonly bigint[]
  readonly size: ImageSize
  readonly outputFormat: OutputFormat
  /** The UNet graph this request needs (`none`: the plain one). */
  readonly mode: CallMode
}

const fail = (message: string): never => {
  throw new InvalidRequestError(message)
}

/**
 * Checks a request against the bundle before it queues or any model runs: sizes the bundle offers,
 * guidance ranges and the bundle's defaults, seeds in range. Throws InvalidRequestError (a 400).
 */
export function validateGeneration(bundle: ModelBundle, input: GenerationInput): GenerationRequest {
  const { prompt } = input
  const n = input.n ?? 1
  if (!Number.isInteger(n) || n < 1) fail(`n must be a positive integer, got ${n}`)
  if (n > MAX_BATCH) fail(`at most ${MAX_BATCH} images per call, got ${n}`)
  if (typeof prompt !== 'string' || prompt.trim() === '') fail('the prompt is empty')
  if (prompt.length > MAX_PROMPT_CHARS) fail(`the prompt is ${prompt.length} characters; the limit is ${MAX_PROMPT_CHARS}`)
  const seeds = seedsFrom(input.seed, n)

  const size = input.size ?? bundle.sizes[0]
  if (!size) return fail('the model bundle lists no sizes')
  const f = bundle.vaeScaleFactor
  if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || size.width % f || size.height % f || size.width <= 0 || size.height <= 0) {
    fail(`size ${formatSize(size)} must be positive multiples of ${f}`)
  }
  if (!bundle.sizes.some((s) => s.width === size.width && s.height === size.height)) {
    fail(`size ${formatSize(size)} is not offered by this model; allowed: ${bundle.sizes.map(formatSize).join(', ')}`)
  }
  const outputFormat = input.outputFormat ?? 'png'
  if (!OUTPUT_FORMATS.includes(outputFormat)) fail(`output format must be one of ${OUTPUT_FORMATS.join(', ')}`)

  const raw = input.negativePrompt
  if (raw !== undefined && typeof raw !== 'string') fail('the negative prompt must be a string')
  if (raw !== undefined && raw.length > MAX_PROMPT_CHARS) fail(`the negative prompt is ${raw.length} characters; the limit is ${MAX_PROMPT_CHARS}`)
  const guidance = resolveGuidance(bundle, input.guidance ?? {})
  // Without a negative prompt (or with mode none) the images are generated plainly.
  const negative = raw !== undefined && raw.trim() !== '' && guidance.mode !== 'none' ? raw : undefined
  const resolved: ResolvedGuidance = negative === undefined ? { mode: 'none' } : guidance
  return { prompt, negativePrompt: negative, guidance: resolved, seeds, size: { width: size.width, height: size.height }, outputFormat, mode: callMode(resolved) }
}

/** seed, seed + 1, … seed + n − 1, each in [0, 2^64 − 1]. */
function seedsFrom(seed: bigint | number, n: number): bigint[] {
  try {
    const first = parseSeed(seed)
    return Array.from({ length: n }, (_, i) => parseSeed(first + BigInt(i)))
  } catch (error) {
    return fail((error as Error).message)
  }
}

/**
 * The caller's guidance with the defaults filled in (NASA's α and form from the bundle, NAG's and
 * CFG's from the contract), checked by the contract's one rule (`guidanceProblem`, which the body
 * schema and the edge apply too) — on the resolved values, so a bundle default out of range is
 * refused as well.
 */
function resolveGuidance(bundle: ModelBundle, spec: GuidanceSpec): ResolvedGuidance {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) fail('guidance must be one object (it applies to every image of the request)')
  const mode = spec.mode ?? 'nasa'
  if (!GUIDANCE_MODES.includes(mode)) fail(`guidance mode must be one of ${GUIDANCE_MODES.join(', ')}`)
  if (spec.projection !== undefined && typeof spec.projection !== 'boolean') fail('guidance projection must be true or false')
  const resolved = withDefaults(bundle, mode, spec)
  const problem = guidanceProblem({ ...spec, ...resolved })
  return problem === undefined ? resolved : fail(problem)
}

function withDefaults(bundle: ModelBundle, mode: GuidanceMode, spec: GuidanceSpec): ResolvedGuidance {
  switch (mode) {
    case 'nasa': {
      const { projection, alpha } = nasaSettings(bundle, spec.projection)
      return { mode, alpha: spec.alpha ?? alpha, projection }
    }
    case 'nag':
      return { mode, scale: spec.scale ?? NAG_DEFAULTS.scale, tau: spec.tau ?? NAG_DEFAULTS.tau, alpha: spec.alpha ?? NAG_DEFAULTS.alpha }
    case 'cfg':
      return { mode, scale: spec.scale ?? CFG_DEFAULT_SCALE }
    case 'none':
      return { mode }
  }
}
