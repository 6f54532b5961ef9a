/**
 * Every limit and default that both tiers apply, written once. The edge's public schema is built from
 * these (a test fails if it admits a value the GPU tier's `/internal/generate` schema refuses), and the
 * GPU service validates with them.
 */

/** Longest prompt or negative prompt, in characters (CLIP reads 75 tokens; the rest is cut and reported). */
export const MAX_PROMPT_CHARS = 2000

/** Images per request (`n`), 1 … this. */
export const MAX_IMAGES_PER_REQUEST = 4

/** Seeds are unsigned 64-bit integers; image i of a request uses seed + i, never wrapping. */
export const MAX_SEED = 2n ** 64n - 1n

/** A seed on the wire: a decimal string (64-bit values do not fit a JSON number). */
export const SEED_PATTERN = /^\d{1,20}$/

/** A size on the wire, `WIDTHxHEIGHT`. */
export const SIZE_PATTERN = /^\d+x\d+$/

/** Encodings of generated images. */
export const OUTPUT_FORMATS = ['png', 'webp', 'jpeg'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/**
 * How a negative prompt acts: `nasa` (the default), `nag`, the `cfg` baseline, or `none` (ignored).
 * See gpu-service/src/pipeline for what each computes.
 */
export const GUIDANCE_MODES = ['nasa', 'nag', 'cfg', 'none'] as const
export type GuidanceMode = (typeof GUIDANCE_MODES)[number]

/** `[min, max]` or `[min, max, default]` of each guidance value (NAG defaults from the NAG paper: φ 5, τ 2.5, α 0.25). */
export const guidanceLimits = {
  nasa: { alpha: [0, 2] },
  nag: { scale: [1, 20, 5], tau: [1, 10, 2.5], alpha: [0, 1, 0.25] },
  cfg: { scale: [1, 20, 2] },
} as const

/** NAG's defaults, filled in explicitly by the edge's canonical request. */
export const NAG_DEFAULTS = {
  scale: guidanceLimits.nag.scale[2],
  tau: guidanceLimits.nag.tau[2],
  alpha: guidanceLimits.nag.alpha[2],
} as const

/** CFG's default scale. */
export const CFG_DEFAULT_SCALE = guidanceLimits.cfg.scale[2]

/** The widest range of each guidance field over the modes that use it (what one public field may hold). */
export const guidanceFieldRange = {
  alpha: [Math.min(guidanceLimits.nasa.alpha[0], guidanceLimits.nag.alpha[0]), Math.max(guidanceLimits.nasa.alpha[1], guidanceLimits.nag.alpha[1])],
  scale: [Math.min(guidanceLimits.nag.scale[0], guidanceLimits.cfg.scale[0]), Math.max(guidanceLimits.nag.scale[1], guidanceLimits.cfg.scale[1])],
  tau: [guidanceLimits.nag.tau[0], guidanceLimits.nag.tau[1]],
} as const

/** The deadline a caller may give one generation (`timeout_ms`), milliseconds. */
export const GENERATION_TIMEOUT_MS = { min: 100, max: 600_000 } as const

/** Largest `/internal/generate` body, bytes. */
export const MAX_INTERNAL_BODY_BYTES = 64 * 1024
