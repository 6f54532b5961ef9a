import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { z } from 'zod'

/**
 * A model bundle: the directory layout `optimum-cli export onnx` writes for Stable Diffusion, plus
 * our optional `snoopi.json`. Loading reads and validates every JSON file and checks that every model
 * file exists; anything wrong is one BundleError naming the file.
 */
export class BundleError extends Error {
  override name = 'BundleError'
  readonly file: string
  constructor(file: string, problem: string) {
    super(`model bundle: ${file}: ${problem}`)
    this.file = file
  }
}

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample'
export type Backbone = 'sd15' | 'sd21' | 'pixart-alpha' | 'unknown'

/** NASA α the paper found per backbone (paper/NOTES.md, HPSv2 table), used when snoopi.json has none. */
export const defaultNasaAlpha: Record<Backbone, number> = { sd15: 0.04, sd21: 0.3, 'pixart-alpha': 0.8, unknown: 0.3 }

export interface ImageSize {
  width: number
  height: number
}

export interface SchedulerConfig {
  num_train_timesteps: number
  beta_start: number
  beta_end: number
  beta_schedule: string
  trained_betas?: number[] | null
  prediction_type: PredictionType
}

export interface ModelBundle {
  dir: string
  /** From snoopi.json, else the folder name. */
  displayName: string
  version: string
  backbone: Backbone
  scheduler: SchedulerConfig
  oneStepTimestep: number
  nasaAlpha: number
  /**
   * α of NASA with projection (`snoopi.json` `nasa_projection_alpha`). When the bundle gives one, a
   * negative prompt uses NASA with projection by default (it was measured better for that model).
   */
  nasaProjectionAlpha?: number
  /** Allowed output sizes; the first is the default. */
  sizes: ImageSize[]
  vaeScalingFactor: number
  /** Downsampling between image and latent (8 for SD's VAE). */
  vaeScaleFactor: number
  latentChannels: number
  files: { textEncoder: string; unet: string; vaeDecoder: string; tokenizerDir: string }
}

const schedulerSchema = z.looseObject({
  num_train_timesteps: z.number().int().min(2).default(1000),
  beta_start: z.number().positive().default(0.00085),
  beta_end: z.number().positive().default(0.012),
  beta_schedule: z.string().default('scaled_linear'),
  trained_betas: z.array(z.number()).nullish(),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).default('epsilon'),
})

const sizeString = z.string().regex(/^\d+x\d+$/, 'sizes are written WIDTHxHEIGHT, e.g. "512x512"')

const snoopiSchema = z.looseObject({
  display_name: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  backbone: z.enum(['sd15', 'sd21', 'pixart-alpha', 'unknown']).optional(),
  one_step_timestep: z.number().int().min(0).optional(),
  nasa_alpha: z.number().min(0).max(5).optional(),
  nasa_projection_alpha: z.number().min(0).max(5).optional(),
  sizes: z.array(sizeString).min(1).optional(),
})

const vaeSchema = z.looseObject({
  scaling_factor: z.number().positive().default(0.18215),
  latent_channels: z.number().int().positive().default(4),
  block_out_channels: z.array(z.number().int()).min(1).default([128, 256, 512, 512]),
})

const unetSchema = z.looseObject({ sample_size: z.number().int().positive().optional(), cross_attention_dim: z.number().int().optional() })

function readJson<T>(dir: string, file: string, schema: z.ZodType<T>, required: boolean): T | undefined {
  const path = join(dir, file)
  if (!existsSync(path)) {
    if (required) throw new BundleError(file, 'missing')
    return undefined
  }
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new BundleError(file, `not valid JSON (${(error as Error).message})`)
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) throw new BundleError(file, z.prettifyError(parsed.error).replaceAll('\n', ' '))
  return parsed.data
}

function requireFile(dir: string, file: string): string {
  const path = join(dir, file)
  if (!existsSync(path)) throw new BundleError(file, 'missing')
  if (statSync(path).size === 0) throw new BundleError(file, 'empty')
  return path
}

export function parseSize(text: string): ImageSize {
  const [width, height] = text.split('x').map(Number) as [number, number]
  return { width, height }
}

export const formatSize = ({ width, height }: ImageSize): string => `${width}x${height}`

/**
 * NASA's form and α for one request: `projection` as asked, else the bundle's default (with
 * projection when snoopi.json gives `nasa_projection_alpha`); α is that form's own value.
 */
export function nasaSettings(bundle: ModelBundle, projection?: boolean): { projection: boolean; alpha: number } {
  const withProjection = projection ?? bundle.nasaProjectionAlpha !== undefined
  return { projection: withProjection, alpha: withProjection ? (bundle.nasaProjectionAlpha ?? bundle.nasaAlpha) : bundle.nasaAlpha }
}

/** Reads and validates the bundle in `dir`. */
export function loadBundle(dirInput: string): ModelBundle {
  const dir = resolve(dirInput)
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError(dir, 'not a directory')
  readJson(dir, 'model_index.json', z.looseObject({}), true)
  const scheduler = readJson(dir, 'scheduler/scheduler_config.json', schedulerSchema, true) as SchedulerConfig
  const snoopi = readJson(dir, 'snoopi.json', snoopiSchema, false) ?? {}
  const vae = readJson(dir, 'vae_decoder/config.json', vaeSchema, false) ?? vaeSchema.parse({})
  const unet = readJson(dir, 'unet/config.json', unetSchema, false) ?? {}

  const tokenizerDir = join(dir, 'tokenizer')
  requireFile(dir, 'tokenizer/vocab.json')
  requireFile(dir, 'tokenizer/merges.txt')
  const files = {
    textEncoder: requireFile(dir, 'text_encoder/model.onnx'),
    unet: requireFile(dir, 'unet/model.onnx'),
    vaeDecoder: requireFile(dir, 'vae_decoder/model.onnx'),
    tokenizerDir,
  }

  const backbone: Backbone =
    snoopi.backbone ?? (unet.cross_attention_dim === 768 ? 'sd15' : unet.cross_attention_dim === 1024 ? 'sd21' : 'unknown')
  const vaeScaleFactor = 2 ** (vae.block_out_channels.length - 1)
  const defaultSide = (unet.sample_size ?? 64) * vaeScaleFactor
  const sizes = (snoopi.sizes ?? [`${defaultSide}x${defaultSide}`]).map(parseSize)
  for (const size of sizes) {
    if (size.width % vaeScaleFactor || size.height % vaeScaleFactor || size.width === 0 || size.height === 0) {
      throw new BundleError('snoopi.json', `size ${formatSize(size)} is not a positive multiple of ${vaeScaleFactor}`)
    }
  }
  const oneStepTimestep = snoopi.one_step_timestep ?? scheduler.num_train_timesteps - 1
  if (oneStepTimestep >= scheduler.num_train_timesteps) {
    throw new BundleError('snoopi.json', `one_step_timestep ${oneStepTimestep} ≥ num_train_timesteps ${scheduler.num_train_timesteps}`)
  }
  const folder = dir.split(/[\\/]/).filter(Boolean).at(-1) ?? 'bundle'
  return {
    dir,
    displayName: snoopi.display_name ?? folder,
    version: snoopi.version ?? '1',
    backbone,
    scheduler,
    oneStepTimestep,
    nasaAlpha: snoopi.nasa_alpha ?? defaultNasaAlpha[backbone],
    ...(snoopi.nasa_projection_alpha === undefined ? {} : { nasaProjectionAlpha: snoopi.nasa_projection_alpha }),
    sizes,
    vaeScalingFactor: vae.scaling_factor,
    vaeScaleFactor,
    latentChannels: vae.latent_channels,
    files,
  }
}
