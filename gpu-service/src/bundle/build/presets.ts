import type { TextEncoderConfig } from './text-encoder.ts'
import type { UnetConfig } from './unet.ts'
import type { VaeDecoderConfig } from './vae-decoder.ts'

export interface BundlePreset {
  name: string
  description: string
  textEncoder: TextEncoderConfig
  unet: UnetConfig
  vae: VaeDecoderConfig
  scheduler: { predictionType: 'epsilon' | 'v_prediction' | 'sample'; betaSchedule: 'scaled_linear'; betaStart: number; betaEnd: number }
  padToken: '<|endoftext|>' | '!'
  /** Image sizes the bundle allows (`WxH`), the first is the default. */
  sizes: string[]
  backbone: 'sd15' | 'sd21'
  nasaAlpha: number
}

const CLIP_VOCAB = 49408

/** The bundles `snoopi make-bundle` generates. Adding a preset is a new row. */
export const presets: Record<'tiny' | 'bench' | 'sd21', BundlePreset> = {
  tiny: {
    name: 'tiny',
    description: 'milliseconds per image; for tests (64×64 images, 8×8 latents)',
    textEncoder: { vocabSize: CLIP_VOCAB, hiddenSize: 32, layers: 2, heads: 2, activation: 'quick_gelu', maxPositions: 77, idsType: 'int32' },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [32, 64],
      layersPerBlock: 1,
      crossAttentionLevels: [true, true],
      headDim: 16,
      crossAttentionDim: 32,
      normGroups: 8,
      sampleSize: 8,
    },
    vae: { latentChannels: 4, blockOutChannels: [8, 16, 16, 16], layersPerBlock: 0, normGroups: 4, scalingFactor: 0.18215 },
    scheduler: { predictionType: 'epsilon', betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 },
    padToken: '<|endoftext|>',
    sizes: ['64x64', '32x32', '128x128'],
    backbone: 'sd15',
    nasaAlpha: 0.04,
  },
  bench: {
    name: 'bench',
    description: 'Stable Diffusion 2.1 block structure at reduced width, 64×64 latents (512×512 images); for CPU benchmarks',
    textEncoder: { vocabSize: CLIP_VOCAB, hiddenSize: 128, layers: 4, heads: 4, activation: 'gelu', maxPositions: 77, idsType: 'int64' },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [64, 128, 256, 256],
      layersPerBlock: 2,
      crossAttentionLevels: [true, true, true, false],
      headDim: 32,
      crossAttentionDim: 128,
      normGroups: 32,
      sampleSize: 64,
    },
    vae: { latentChannels: 4, blockOutChannels: [32, 64, 128, 128], layersPerBlock: 1, normGroups: 16, scalingFactor: 0.18215 },
    scheduler: { predictionType: 'v_prediction', betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 },
    padToken: '!',
    sizes: ['512x512', '256x256', '384x384'],
    backbone: 'sd21',
    nasaAlpha: 0.3,
  },
  sd21: {
    name: 'sd21',
    description: 'full Stable Diffusion 2.1 size (865M-parameter UNet, 768×768); for timing on a GPU',
    textEncoder: { vocabSize: CLIP_VOCAB, hiddenSize: 1024, layers: 23, heads: 16, activation: 'gelu', maxPositions: 77, idsType: 'int64' },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockOutChannels: [320, 640, 1280, 1280],
      layersPerBlock: 2,
      crossAttentionLevels: [true, true, true, false],
      headDim: 64,
      crossAttentionDim: 1024,
      normGroups: 32,
      sampleSize: 96,
    },
    vae: { latentChannels: 4, blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, normGroups: 32, scalingFactor: 0.18215 },
    scheduler: { predictionType: 'v_prediction', betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 },
    padToken: '!',
    sizes: ['768x768', '512x512'],
    backbone: 'sd21',
    nasaAlpha: 0.3,
  },
}

export type PresetName = keyof typeof presets
export const presetNames = Object.keys(presets) as PresetName[]
