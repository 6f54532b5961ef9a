import { combine } from '../guidance-combine.ts'
import { layoutTail, mismatch, redirect, type RewriteRule } from './rule.ts'

/**
 * The ONNX opset-23 `Attention(Q, K, V, [attn_mask], …)` op, with 3D inputs (`q_num_heads` set) or
 * 4D `[B, H, S, d]` inputs.
 */
export const onnxAttentionRule: RewriteRule = {
  name: 'ONNX Attention (opset 23)',
  anchors: (ctx) => (ctx.model.graph?.node ?? []).filter((n) => n.opType === 'Attention' && (!n.domain || n.domain === 'ai.onnx')),
  match(node, ctx) {
    const [query = '', key = '', value = ''] = node.input ?? []
    if (ctx.index.classOf(key) !== 'context') {
      return mismatch(`Attention ${node.name}: keys are not derived from ${ctx.contextInput} only (self-attention)`, 1, true)
    }
    if (ctx.index.classOf(value) !== 'context') return mismatch(`Attention ${node.name}: values are not derived from ${ctx.contextInput}`, 2)
    if (ctx.index.classOf(query) !== 'data') return mismatch(`Attention ${node.name}: queries do not come from the latent path`, 2)
    const threeD = (node.attribute ?? []).some((a) => a.name === 'q_num_heads')
    return {
      ok: true,
      apply() {
        const output = node.output?.[0] ?? ''
        const { chain, tensor: z } = layoutTail(ctx, output)
        const replace = new Map([
          [key, ctx.negativeOf(key)],
          [value, ctx.negativeOf(value)],
        ])
        const negative = ctx.cloneChain([{ ...node, output: [output] }, ...chain], replace, z)
        redirect(ctx, z, combine(ctx, z, negative, threeD || chain.length > 0 ? 'BSC' : 'BHSD'))
      },
    }
  },
}
