import { DataType } from '../../onnx/onnx-proto.ts'
import { GraphBuilder } from '../../onnx/graph-builder.ts'
import { attention, type AttentionForm } from './attention.ts'
import { conv2d, gegluFeedForward, groupNorm, layerNorm, linear, silu } from './layers.ts'

export interface UnetConfig {
  inChannels: number
  outChannels: number
  blockOutChannels: number[]
  layersPerBlock: number
  /** Per level: whether its blocks carry transformers (SD2.1: the three upper levels). */
  crossAttentionLevels: boolean[]
  /** Channels per attention head (SD2.1: 64). */
  headDim: number
  crossAttentionDim: number
  normGroups: number
  /** Latent side the model is built for (the graph accepts any multiple of 2^(levels−1)). */
  sampleSize: number
}

interface Ctx {
  g: GraphBuilder
  config: UnetConfig
  temb: string
  timeDim: number
  context: string
  form: AttentionForm
}

/** Counts the cross-attention layers a config produces (what the NASA rewrite must find). */
export function crossAttentionLayerCount(config: UnetConfig): number {
  const levels = config.crossAttentionLevels
  const down = levels.reduce((n, on) => n + (on ? config.layersPerBlock : 0), 0)
  const up = levels.reduce((n, on) => n + (on ? config.layersPerBlock + 1 : 0), 0)
  return down + up + 1 // + the mid block
}

function resnet(ctx: Ctx, x: string, inChannels: number, outChannels: number): string {
  const { g, config } = ctx
  let h = g.scope('norm1', () => groupNorm(g, x, inChannels, config.normGroups))
  h = g.scope('conv1', () => conv2d(g, silu(g, h), inChannels, outChannels))
  const t = g.scope('time_emb_proj', () => linear(g, silu(g, ctx.temb), ctx.timeDim, outChannels))
  h = g.op('Add', [h, g.op('Unsqueeze', [t, g.int64([2, 3])])])
  h = g.scope('norm2', () => groupNorm(g, h, outChannels, config.normGroups))
  h = g.scope('conv2', () => conv2d(g, silu(g, h), outChannels, outChannels))
  const shortcut = inChannels === outChannels ? x : g.scope('conv_shortcut', () => conv2d(g, x, inChannels, outChannels, { kernel: 1 }))
  return g.op('Add', [shortcut, h])
}

/** SD2.x Transformer2DModel (linear projections) with one BasicTransformerBlock. */
function transformer(ctx: Ctx, x: string, channels: number): string {
  const { g, config } = ctx
  const heads = channels / config.headDim
  const normed = g.scope('norm', () => groupNorm(g, x, channels, config.normGroups, 1e-6))
  const tokens = g.op('Transpose', [g.op('Reshape', [normed, g.int64([0, 0, -1])])], { perm: [0, 2, 1] })
  let h = g.scope('proj_in', () => linear(g, tokens, channels, channels))
  h = g.scope('transformer_blocks.0', () => {
    const self = g.scope('attn1', () =>
      attention(g, { x: g.scope('norm1', () => layerNorm(g, h, channels)), dim: channels, heads, form: ctx.form }),
    )
    let y = g.op('Add', [h, self])
    const cross = g.scope('attn2', () =>
      attention(g, {
        x: g.scope('norm2', () => layerNorm(g, y, channels)),
        context: ctx.context,
        dim: channels,
        contextDim: config.crossAttentionDim,
        heads,
        form: ctx.form,
      }),
    )
    y = g.op('Add', [y, cross])
    const ff = g.scope('ff', () => gegluFeedForward(g, g.scope('norm3', () => layerNorm(g, y, channels)), channels))
    return g.op('Add', [y, ff])
  })
  h = g.scope('proj_out', () => linear(g, h, channels, channels))
  const back = g.op('Reshape', [g.op('Transpose', [h], { perm: [0, 2, 1] }), g.op('Shape', [x])])
  return g.op('Add', [back, x])
}

function timeEmbedding(g: GraphBuilder, timestep: string, channels: number, timeDim: number): string {
  const half = channels / 2
  const freqs = new Float32Array(half)
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half)
  const t = g.op('Reshape', [g.op('Cast', [timestep], { to: g.floatType }), g.int64([-1, 1])])
  const args = g.op('Mul', [t, g.tensor('time_proj.freqs', [1, half], freqs)])
  // flip_sin_to_cos: cos first, as SD's Timesteps(…, flip_sin_to_cos=True).
  const emb = g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: 1 })
  const hidden = g.scope('time_embedding.linear_1', () => linear(g, emb, channels, timeDim))
  return g.scope('time_embedding.linear_2', () => linear(g, silu(g, hidden), timeDim, timeDim))
}

/**
 * A UNet2DConditionModel with Stable Diffusion 2.1's block structure: conv_in, time embedding,
 * CrossAttnDownBlocks / DownBlock, a mid block (resnet, transformer, resnet), UpBlock /
 * CrossAttnUpBlocks with skip concatenations, and the output head. Inputs and output carry the names
 * Optimum's export uses: `sample`, `timestep` (a float scalar), `encoder_hidden_states` → `out_sample`.
 */
export function buildUnet(config: UnetConfig, form: AttentionForm, seed: number, weightType: 'fp32' | 'fp16' = 'fp32', externalWeights?: string): GraphBuilder {
  const g = new GraphBuilder('unet', { seed, weightType, externalWeights })
  const channels = config.blockOutChannels
  const c0 = channels[0] as number
  const timeDim = 4 * c0
  const sample = g.input('sample', g.floatType, ['batch_size', config.inChannels, 'height', 'width'])
  const timestep = g.input('timestep', DataType.FLOAT, [])
  const context = g.input('encoder_hidden_states', g.floatType, ['batch_size', 'sequence_length', config.crossAttentionDim])
  const temb = timeEmbedding(g, timestep, c0, timeDim)
  const ctx: Ctx = { g, config, temb, timeDim, context, form }

  let h = g.scope('conv_in', () => conv2d(g, sample, config.inChannels, c0))
  const skips: { name: string; channels: number }[] = [{ name: h, channels: c0 }]
  let current = c0
  channels.forEach((out, level) => {
    g.scope(`down_blocks.${level}`, () => {
      for (let i = 0; i < config.layersPerBlock; i++) {
        h = g.scope(`resnets.${i}`, () => resnet(ctx, h, current, out))
        current = out
        if (config.crossAttentionLevels[level]) h = g.scope(`attentions.${i}`, () => transformer(ctx, h, out))
        skips.push({ name: h, channels: out })
      }
      if (level < channels.length - 1) {
        h = g.scope('downsamplers.0.conv', () => conv2d(g, h, out, out, { stride: 2 }))
        skips.push({ name: h, channels: out })
      }
    })
  })

  h = g.scope('mid_block', () => {
    let m = g.scope('resnets.0', () => resnet(ctx, h, current, current))
    m = g.scope('attentions.0', () => transformer(ctx, m, current))
    return g.scope('resnets.1', () => resnet(ctx, m, current, current))
  })

  const reversed = [...channels].reverse()
  reversed.forEach((out, upLevel) => {
    const level = channels.length - 1 - upLevel
    g.scope(`up_blocks.${upLevel}`, () => {
      for (let i = 0; i <= config.layersPerBlock; i++) {
        const skip = skips.pop()
        if (!skip) throw new Error('unet: skip connections exhausted (inconsistent config)')
        const joined = g.op('Concat', [h, skip.name], { axis: 1 })
        h = g.scope(`resnets.${i}`, () => resnet(ctx, joined, current + skip.channels, out))
        current = out
        if (config.crossAttentionLevels[level]) h = g.scope(`attentions.${i}`, () => transformer(ctx, h, out))
      }
      if (upLevel < channels.length - 1) {
        const upsampled = g.op('Resize', [h, '', g.float32([1, 1, 2, 2])], { mode: 'nearest' })
        h = g.scope('upsamplers.0.conv', () => conv2d(g, upsampled, out, out))
      }
    })
  })

  h = g.scope('conv_norm_out', () => groupNorm(g, h, current, config.normGroups))
  const out = g.scope('conv_out', () => conv2d(g, silu(g, h), current, config.outChannels))
  g.output('out_sample', g.floatType, ['batch_size', config.outChannels, 'height', 'width'], out)
  return g
}
