import type { NodeProto } from '../../onnx/onnx-proto.ts'
import { combine } from '../guidance-combine.ts'
import type { RewriteContext } from '../rewrite-context.ts'
import { layoutTail, mismatch, redirect, type RewriteRule } from './rule.ts'

const single = (ctx: RewriteContext, tensor: string): NodeProto | undefined => {
  const consumers = ctx.index.consumersOf(tensor)
  return consumers.length === 1 ? consumers[0] : undefined
}

/**
 * Attention as torch exports it: MatMul(Q, Kᵀ) → [Mul|Div scale] → [Add mask] → Softmax → MatMul(·, V),
 * optionally with Casts around the Softmax, and with the scale either on the scores or split as
 * √scale on Q and on Kᵀ (then it sits inside the K side, which the negative branch copies).
 * Anchored at each Softmax.
 */
export const decomposedAttentionRule: RewriteRule = {
  name: 'decomposed MatMul/Softmax/MatMul',
  anchors: (ctx) => (ctx.model.graph?.node ?? []).filter((n) => n.opType === 'Softmax'),
  match(softmax, ctx) {
    const head: NodeProto[] = []
    let tensor = softmax.input?.[0] ?? ''
    let producer = ctx.index.producer.get(tensor)
    // Walk up through Cast, mask Add and scale Mul/Div to the scores MatMul.
    while (producer && producer.opType !== 'MatMul') {
      const op = producer.opType ?? ''
      const [a = '', b = ''] = producer.input ?? []
      const otherIsSmall = ['constant', 'shape'].includes(ctx.index.classOf(b)) || op === 'Add'
      if (!(op === 'Cast' || ((op === 'Mul' || op === 'Div' || op === 'Add') && otherIsSmall))) {
        return mismatch(`Softmax ${softmax.name}: its input comes from ${op} ${producer.name}, not from a scores MatMul`, 0)
      }
      head.unshift(producer)
      tensor = a
      producer = ctx.index.producer.get(tensor)
    }
    if (!producer) return mismatch(`Softmax ${softmax.name}: no MatMul of queries and keys before it`, 0)
    const scores = producer
    const [query = '', key = ''] = scores.input ?? []
    const keyClass = ctx.index.classOf(key)
    if (keyClass !== 'context') {
      return mismatch(`Softmax ${softmax.name}: keys are not derived from ${ctx.contextInput} only (self-attention)`, 1, true)
    }
    if (ctx.index.classOf(query) !== 'data') return mismatch(`Softmax ${softmax.name}: queries do not come from the latent path`, 2)

    let after = softmax.output?.[0] ?? ''
    const tail: NodeProto[] = []
    let next = single(ctx, after)
    while (next?.opType === 'Cast') {
      tail.push(next)
      after = next.output?.[0] ?? ''
      next = single(ctx, after)
    }
    if (!next || next.opType !== 'MatMul' || next.input?.[0] !== after) {
      return mismatch(`Softmax ${softmax.name}: its probabilities do not feed one MatMul with the values`, 3)
    }
    const weighted = next
    const value = weighted.input?.[1] ?? ''
    if (ctx.index.classOf(value) !== 'context') return mismatch(`Softmax ${softmax.name}: values are not derived from ${ctx.contextInput}`, 4)

    return {
      ok: true,
      apply() {
        const { chain, tensor: z } = layoutTail(ctx, weighted.output?.[0] ?? '')
        const replace = new Map([
          [key, ctx.negativeOf(key)],
          [value, ctx.negativeOf(value)],
        ])
        const negative = ctx.cloneChain([scores, ...head, softmax, ...tail, weighted, ...chain], replace, z)
        redirect(ctx, z, combine(ctx, z, negative, chain.length > 0 ? 'BSC' : 'BHSD'))
      },
    }
  },
}
