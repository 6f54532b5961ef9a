import type { NodeProto } from '../../onnx/onnx-proto.ts'
import type { RewriteContext } from '../rewrite-context.ts'

/**
 * One attention form's rewrite: which nodes anchor it, whether an anchor is a cross-attention the
 * rule can rewrite (or why not), and the rewrite itself.
 */
export interface RewriteRule {
  name: string
  /** Nodes this rule inspects (e.g. every Softmax). */
  anchors(ctx: RewriteContext): NodeProto[]
  /** A cross-attention to rewrite, or why this anchor is not one (`depth`: how far the match got). */
  match(anchor: NodeProto, ctx: RewriteContext): Match | Mismatch
}

export interface Match {
  ok: true
  /** Adds the negative branch and the combination; returns the combined tensor. */
  apply(): void
}

export interface Mismatch {
  ok: false
  reason: string
  /** 0 = barely started … higher = closer to a match; the best mismatch explains a graph with no match. */
  depth: number
  /** Self-attention is a correct non-match, not a near miss. */
  selfAttention?: boolean
}

export const mismatch = (reason: string, depth: number, selfAttention = false): Mismatch => ({ ok: false, reason, depth, selfAttention })

const LAYOUT_OPS = new Set(['Transpose', 'Reshape', 'Cast', 'Identity'])

/**
 * From an attention core's output, the layout-only nodes (Transpose/Reshape/Cast) that merge the
 * heads back, up to the tensor that enters the output projection. Combining there puts Z+ − α·Z− in
 * `[batch, tokens, channels]` whatever the core's head layout was.
 */
export function layoutTail(ctx: RewriteContext, output: string): { chain: NodeProto[]; tensor: string } {
  const chain: NodeProto[] = []
  let tensor = output
  for (;;) {
    const consumers = ctx.index.consumersOf(tensor)
    const next = consumers[0]
    if (consumers.length !== 1 || !next || !LAYOUT_OPS.has(next.opType ?? '') || next.input?.[0] !== tensor) break
    chain.push(next)
    tensor = next.output?.[0] ?? ''
  }
  return { chain, tensor }
}

/** Points every consumer of `from` (other than nodes the rewrite added) at `to`. */
export function redirect(ctx: RewriteContext, from: string, to: string): void {
  const added = new Set(ctx.added)
  for (const node of ctx.index.consumersOf(from)) {
    if (added.has(node)) continue
    node.input = (node.input ?? []).map((i) => (i === from ? to : i))
  }
  for (const output of ctx.model.graph?.output ?? []) if (output.name === from) throw new Error(`internal: attention output ${from} is a graph output`)
}
