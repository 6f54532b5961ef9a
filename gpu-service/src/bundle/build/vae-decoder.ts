import { GraphBuilder } from '../../onnx/graph-builder.ts'
import { attention } from './attention.ts'
import { conv2d, groupNorm, silu } from './layers.ts'

export interface VaeDecoderConfig {
  latentChannels: number
  /** Encoder order, as in diffusers' config (the decoder walks it in reverse). */
  blockOutChannels: number[]
  layersPerBlock: number
  normGroups: number
  scalingFactor: number
}

function resnet(g: GraphBuilder, x: string, inChannels: number, outChannels: number, groups: number): string {
  let h = g.scope('norm1', () => groupNorm(g, x, inChannels, groups, 1e-6))
  h = g.scope('conv1', () => conv2d(g, silu(g, h), inChannels, outChannels))
  h = g.scope('norm2', () => groupNorm(g, h, outChannels, groups, 1e-6))
  h = g.scope('conv2', () => conv2d(g, silu(g, h), outChannels, outChannels))
  const shortcut = inChannels === outChannels ? x : g.scope('conv_shortcut', () => conv2d(g, x, inChannels, outChannels, { kernel: 1 }))
  return g.op('Add', [shortcut, h])
}

/** The mid block's single-head spatial self-attention. */
function spatialAttention(g: GraphBuilder, x: string, channels: number, groups: number): string {
  const normed = g.scope('group_norm', () => groupNorm(g, x, channels, groups, 1e-6))
  const tokens = g.op('Transpose', [g.op('Reshape', [normed, g.int64([0, 0, -1])])], { perm: [0, 2, 1] })
  const attended = attention(g, { x: tokens, dim: channels, heads: 1, form: 'decomposed' })
  const back = g.op('Reshape', [g.op('Transpose', [attended], { perm: [0, 2, 1] }), g.op('Shape', [x])])
  return g.op('Add', [back, x])
}

/**
 * The AutoencoderKL decoder (post_quant_conv, conv_in, mid block with attention, up blocks with
 * nearest ×2 upsampling, output head): `latent_sample [B, 4, h, w]` → `sample [B, 3, 8h, 8w]` in
 * roughly [−1, 1] (Optimum's `vae_decoder` names).
 */
export function buildVaeDecoder(config: VaeDecoderConfig, seed: number, weightType: 'fp32' | 'fp16' = 'fp32', externalWeights?: string): GraphBuilder {
  const g = new GraphBuilder('vae_decoder', { seed, weightType, externalWeights })
  const { normGroups: groups } = config
  const reversed = [...config.blockOutChannels].reverse()
  const top = reversed[0] as number
  const latent = g.input('latent_sample', g.floatType, ['batch_size', config.latentChannels, 'latent_height', 'latent_width'])
  let h = g.scope('post_quant_conv', () => conv2d(g, latent, config.latentChannels, config.latentChannels, { kernel: 1 }))
  h = g.scope('decoder.conv_in', () => conv2d(g, h, config.latentChannels, top))
  h = g.scope('decoder.mid_block', () => {
    let m = g.scope('resnets.0', () => resnet(g, h, top, top, groups))
    m = g.scope('attentions.0', () => spatialAttention(g, m, top, groups))
    return g.scope('resnets.1', () => resnet(g, m, top, top, groups))
  })
  let current = top
  reversed.forEach((out, i) => {
    g.scope(`decoder.up_blocks.${i}`, () => {
      for (let j = 0; j <= config.layersPerBlock; j++) {
        h = g.scope(`resnets.${j}`, () => resnet(g, h, current, out, groups))
        current = out
      }
      if (i < reversed.length - 1) {
        const upsampled = g.op('Resize', [h, '', g.float32([1, 1, 2, 2])], { mode: 'nearest' })
        h = g.scope('upsamplers.0.conv', () => conv2d(g, upsampled, out, out))
      }
    })
  })
  h = g.scope('decoder.conv_norm_out', () => groupNorm(g, h, current, groups, 1e-6))
  const image = g.scope('decoder.conv_out', () => conv2d(g, silu(g, h), current, 3))
  const factor = 2 ** (reversed.length - 1)
  g.output('sample', g.floatType, ['batch_size', 3, `latent_height * ${factor}`, `latent_width * ${factor}`], image)
  return g
}
