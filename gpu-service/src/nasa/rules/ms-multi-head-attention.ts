import { combine } from '../guidance-combine.ts'
import { layoutTail, mismatch, redirect, type RewriteRule } from './rule.ts'

/**
 * ORT's fused `com.microsoft.MultiHeadAttention(query, key, value, …)` — separate K and V, or packed KV
 * `[B, L, H, 2, d]` in the key slot with no value. The negative copy is the same node fed by the
 * negative K/V, sharing the query.
 */
export const msMultiHeadAttentionRule: RewriteRule = {
  name: 'com.microsoft MultiHeadAttention',
  anchors: (ctx) => (ctx.model.graph?.node ?? []).filter((n) => n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft'),
  match(node, ctx) {
    const [query = '', key = '', value = ''] = node.input ?? []
    if (!key) return mismatch(`MultiHeadAttention ${node.name}: packed QKV in the query slot is self-attention`, 1, true)
    if (ctx.index.classOf(key) !== 'context') {
      return mismatch(`MultiHeadAttention ${node.name}: keys are not derived from ${ctx.contextInput} only (self-attention)`, 1, true)
    }
    if (value && ctx.index.classOf(value) !== 'context') return mismatch(`MultiHeadAttention ${node.name}: values are not derived from ${ctx.contextInput}`, 2)
    if (ctx.index.classOf(query) !== 'data') return mismatch(`MultiHeadAttention ${node.name}: queries do not come from the latent path`, 2)
    return {
      ok: true,
      apply() {
        const output = node.output?.[0] ?? ''
        const { chain, tensor: z } = layoutTail(ctx, output)
        const replace = new Map([[key, ctx.negativeOf(key)]])
        if (value) replace.set(value, ctx.negativeOf(value))
        // Only the attention output is needed from the negative copy (no present key/value).
        const negative = ctx.cloneChain([{ ...node, output: [output] }, ...chain], replace, z)
        redirect(ctx, z, combine(ctx, z, negative, 'BSC'))
      },
    }
  },
}

/**
 * ORT's fused `com.microsoft.Attention` computes Q, K and V from one input with packed weights: it is
 * always self-attention, which NASA leaves alone. The rule exists so reports say so.
 */
export const msAttentionRule: RewriteRule = {
  name: 'com.microsoft Attention',
  anchors: (ctx) => (ctx.model.graph?.node ?? []).filter((n) => n.opType === 'Attention' && n.domain === 'com.microsoft'),
  match: (node) => mismatch(`Attention ${node.name}: com.microsoft Attention is self-attention (Q, K, V from one input)`, 1, true),
}
