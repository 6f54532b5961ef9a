import { DataType } from '../../onnx/onnx-proto.ts'
import { GraphBuilder } from '../../onnx/graph-builder.ts'
import { attention, causalMask } from './attention.ts'
import { gelu, layerNorm, linear, quickGelu } from './layers.ts'

export interface TextEncoderConfig {
  vocabSize: number
  hiddenSize: number
  layers: number
  heads: number
  /** CLIP ViT-L (SD1.x) uses quick_gelu, OpenCLIP ViT-H (SD2.x) gelu. */
  activation: 'quick_gelu' | 'gelu'
  /** Sequence length; the tokenizer frames every prompt to this many ids. */
  maxPositions: number
  /** dtype of `input_ids` (Optimum's exports use int32 or int64 depending on version). */
  idsType: 'int32' | 'int64'
}

/**
 * A CLIP-style text transformer: token + position embeddings, pre-LN causal self-attention blocks,
 * final LayerNorm. Outputs `last_hidden_state [B, 77, D]` and `pooler_output [B, D]` (the state at
 * the end token, found as the argmax id as CLIP does), the names Optimum's CLIPTextModel export uses.
 */
export function buildTextEncoder(config: TextEncoderConfig, seed: number, weightType: 'fp32' | 'fp16' = 'fp32', externalWeights?: string): GraphBuilder {
  const g = new GraphBuilder('text_encoder', { seed, weightType, externalWeights })
  const { hiddenSize: d, maxPositions: n } = config
  const ids = g.input('input_ids', config.idsType === 'int32' ? DataType.INT32 : DataType.INT64, ['batch_size', n])
  let h = g.scope('embeddings', () => {
    const tokens = g.op('Gather', [g.weight('token_embedding.weight', [config.vocabSize, d], { std: 0.02 }), ids], { axis: 0 })
    return g.op('Add', [tokens, g.weight('position_embedding.weight', [n, d], { std: 0.01 })])
  })
  const mask = causalMask(g, n)
  for (let i = 0; i < config.layers; i++) {
    h = g.scope(`encoder.layers.${i}`, () => {
      const attended = g.scope('self_attn', () =>
        attention(g, { x: g.scope('layer_norm1', () => layerNorm(g, h, d)), dim: d, heads: config.heads, form: 'decomposed', mask }),
      )
      const afterAttention = g.op('Add', [h, attended])
      const normed = g.scope('layer_norm2', () => layerNorm(g, afterAttention, d))
      const hidden = g.scope('mlp.fc1', () => linear(g, normed, d, 4 * d))
      const activated = config.activation === 'gelu' ? gelu(g, hidden) : quickGelu(g, hidden)
      return g.op('Add', [afterAttention, g.scope('mlp.fc2', () => linear(g, activated, 4 * d, d))])
    })
  }
  const last = g.scope('final_layer_norm', () => layerNorm(g, h, d))
  g.output('last_hidden_state', g.floatType, ['batch_size', n, d], last)
  // CLIP pools at the end-of-text token, which has the largest id in the vocabulary.
  const endPosition = g.op('ArgMax', [g.op('Cast', [ids], { to: DataType.FLOAT })], { axis: 1, keepdims: 1 })
  const pooled = g.op('GatherND', [last, endPosition], { batch_dims: 1 })
  g.output('pooler_output', g.floatType, ['batch_size', d], pooled)
  return g
}
