import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { saveModel } from '../../onnx/model-file.ts'
import { encodeModel } from '../../onnx/onnx-proto.ts'
import type { GraphBuilder } from '../../onnx/graph-builder.ts'
import { DATA_FILE, MANIFEST_FILE } from '../../onnx/weight-manifest.ts'
import { writeHfTokenizerFiles } from '../../tokenizer/hf-tokenizer-files.ts'
import { opsetFor, type AttentionForm } from './attention.ts'
import type { BundlePreset } from './presets.ts'
import { buildTextEncoder } from './text-encoder.ts'
import { buildUnet } from './unet.ts'
import { buildVaeDecoder } from './vae-decoder.ts'

export interface WriteBundleOptions {
  preset: BundlePreset
  out: string
  seed?: number
  attention?: AttentionForm
  weightType?: 'fp32' | 'fp16'
  /**
   * `inline` (default): weights drawn and stored. `manifest`: structure only — each model.onnx names its
   * weights as external data in `model.onnx_data`, which is not written; `model.weights.json` says how to
   * draw them (writeWeightData or bench/device/write_weights.py fills it in, the same bytes as inline).
   */
  weights?: 'inline' | 'manifest'
  /** Progress lines ("unet: 4.2 MB written"). */
  onProgress?: (line: string) => void
}

const json = (path: string, value: unknown) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)

/**
 * Generates a model bundle with seeded random weights in the layout Optimum's
 * `optimum-cli export onnx` writes for Stable Diffusion, plus our `snoopi.json`.
 */
export function writeBundle({ preset, out, seed = 0, attention = 'decomposed', weightType = 'fp32', weights = 'inline', onProgress = () => {} }: WriteBundleOptions): void {
  const started = Date.now()
  mkdirSync(out, { recursive: true })
  const { textEncoder, unet, vae, scheduler } = preset
  const external = weights === 'manifest' ? DATA_FILE : undefined

  json(join(out, 'model_index.json'), {
    _class_name: 'StableDiffusionPipeline',
    _diffusers_version: '0.31.0',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae_decoder: ['diffusers', 'AutoencoderKL'],
  })
  mkdirSync(join(out, 'scheduler'), { recursive: true })
  json(join(out, 'scheduler', 'scheduler_config.json'), {
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: '0.31.0',
    beta_end: scheduler.betaEnd,
    beta_schedule: scheduler.betaSchedule,
    beta_start: scheduler.betaStart,
    num_train_timesteps: 1000,
    prediction_type: scheduler.predictionType,
    steps_offset: 1,
    timestep_spacing: 'trailing',
  })

  writeHfTokenizerFiles(join(out, 'tokenizer'), { padToken: preset.padToken })
  onProgress('tokenizer: CLIP BPE vocabulary written')

  const models = [
    {
      folder: 'text_encoder',
      build: () => buildTextEncoder(textEncoder, seed * 3 + 1, weightType, external),
      config: {
        architectures: ['CLIPTextModel'],
        hidden_size: textEncoder.hiddenSize,
        num_hidden_layers: textEncoder.layers,
        num_attention_heads: textEncoder.heads,
        hidden_act: textEncoder.activation,
        max_position_embeddings: textEncoder.maxPositions,
        vocab_size: textEncoder.vocabSize,
      },
    },
    {
      folder: 'unet',
      build: () => buildUnet(unet, attention, seed * 3 + 2, weightType, external),
      opset: opsetFor(attention),
      config: {
        _class_name: 'UNet2DConditionModel',
        sample_size: unet.sampleSize,
        in_channels: unet.inChannels,
        out_channels: unet.outChannels,
        block_out_channels: unet.blockOutChannels,
        layers_per_block: unet.layersPerBlock,
        cross_attention_dim: unet.crossAttentionDim,
        attention_head_dim: unet.blockOutChannels.map((c) => c / unet.headDim),
        norm_num_groups: unet.normGroups,
        use_linear_projection: true,
        snoopi_attention_form: attention,
      },
    },
    {
      folder: 'vae_decoder',
      build: () => buildVaeDecoder(vae, seed * 3 + 3, weightType, external),
      config: {
        _class_name: 'AutoencoderKL',
        latent_channels: vae.latentChannels,
        block_out_channels: vae.blockOutChannels,
        layers_per_block: vae.layersPerBlock,
        norm_num_groups: vae.normGroups,
        scaling_factor: vae.scalingFactor,
      },
    },
  ]
  for (const model of models) {
    const t0 = Date.now()
    const builder: GraphBuilder = model.build()
    const proto = builder.toModel('opset' in model ? { opset: model.opset } : {})
    const path = join(out, model.folder, 'model.onnx')
    mkdirSync(join(out, model.folder), { recursive: true })
    json(join(out, model.folder, 'config.json'), model.config)
    if (external) {
      const manifest = builder.weightManifest()
      writeFileSync(path, encodeModel(proto))
      json(join(out, model.folder, MANIFEST_FILE), manifest)
      onProgress(`${model.folder}: structure only, ${manifest.tensors.length} weights (${(manifest.bytes / 1e6).toFixed(1)} MB) described in ${MANIFEST_FILE}`)
      continue
    }
    const bytes = (proto.graph?.initializer ?? []).reduce((sum, t) => sum + (t.rawData?.byteLength ?? 0), 0)
    saveModel(proto, path)
    onProgress(`${model.folder}: ${(bytes / 1e6).toFixed(1)} MB of weights in ${Date.now() - t0} ms`)
  }

  json(join(out, 'snoopi.json'), {
    display_name: `SNOOPI ${preset.name} (random weights, seed ${seed})`,
    version: `${preset.name}-${seed}-${attention}-${weightType}`,
    ...(external ? { weights: 'manifest' } : {}),
    backbone: preset.backbone,
    one_step_timestep: 999,
    nasa_alpha: preset.nasaAlpha,
    sizes: preset.sizes,
  })
  onProgress(`bundle ${preset.name} written to ${out} in ${Date.now() - started} ms`)
}
