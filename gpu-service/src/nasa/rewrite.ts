import type { ModelProto } from '../onnx/onnx-proto.ts'
import { topologicalOrder } from './graph-index.ts'
import { RewriteContext, type GuidanceMode, type NagNorm } from './rewrite-context.ts'
import { decomposedAttentionRule } from './rules/decomposed-attention.ts'
import { msAttentionRule, msMultiHeadAttentionRule } from './rules/ms-multi-head-attention.ts'
import { onnxAttentionRule } from './rules/onnx-attention.ts'
import type { Mismatch, RewriteRule } from './rules/rule.ts'

/** The rules, in the order they run. Adding an attention form is a new row. */
export const rewriteRules: RewriteRule[] = [decomposedAttentionRule, msMultiHeadAttentionRule, msAttentionRule, onnxAttentionRule]

export interface RewriteOptions {
  /** `nasa` (default): Z+ − α·Z−. `nag`: normalised attention guidance. */
  mode?: GuidanceMode
  /** The UNet input the cross-attention keys/values come from. Default `encoder_hidden_states`. */
  contextInput?: string
  /** NAG's per-token norm. Default `l2` (NAG's released code; its paper writes L1). */
  norm?: NagNorm
}

export interface RuleReport {
  rule: string
  /** Cross-attention layers this rule rewrote. */
  rewritten: number
  /** Attentions it inspected and correctly left alone (self-attention). */
  selfAttention: number
}

export interface RewriteReport {
  mode: GuidanceMode
  rules: RuleReport[]
  layers: number
  nodesAdded: number
}

/** Nothing matched: the message gives the closest partial match. */
export class NoCrossAttentionError extends Error {
  override name = 'NoCrossAttentionError'
}

/**
 * Rewrites a UNet/DiT graph in place so every cross-attention also attends to
 * `negative_encoder_hidden_states` with the same queries, and combines the two before the output
 * projection (README.md in this folder; NASA: new input `nasa_scale [batch]`; NAG: `nag_scale`,
 * `nag_tau`, `nag_alpha`). Self-attention is left alone. Throws NoCrossAttentionError if nothing
 * matched.
 */
export function rewriteForNegativeGuidance(model: ModelProto, options: RewriteOptions = {}): RewriteReport {
  const mode = options.mode ?? 'nasa'
  const contextInput = options.contextInput ?? 'encoder_hidden_states'
  const graph = model.graph
  if (!graph) throw new NoCrossAttentionError('the model has no graph')
  const inputNames = (graph.input ?? []).map((i) => i.name)
  if (!inputNames.includes(contextInput)) {
    throw new NoCrossAttentionError(`the graph has no input "${contextInput}" (inputs: ${inputNames.join(', ')}); pass the context input's name`)
  }
  for (const taken of ['negative_encoder_hidden_states', 'nasa_scale', 'nag_scale']) {
    if (inputNames.includes(taken)) throw new NoCrossAttentionError(`the graph already has an input "${taken}": it was rewritten before`)
  }
  const ctx = new RewriteContext(model, { contextInput, mode, norm: options.norm ?? 'l2' })

  const reports: RuleReport[] = []
  let best: Mismatch | undefined
  for (const rule of rewriteRules) {
    const report: RuleReport = { rule: rule.name, rewritten: 0, selfAttention: 0 }
    // Match every anchor against the untouched graph first, then apply.
    const matches = []
    for (const anchor of rule.anchors(ctx)) {
      const result = rule.match(anchor, ctx)
      if (result.ok) matches.push(result)
      else if (result.selfAttention) report.selfAttention++
      else if (!best || result.depth > best.depth) best = result
    }
    for (const match of matches) match.apply()
    report.rewritten = matches.length
    reports.push(report)
  }
  const layers = reports.reduce((n, r) => n + r.rewritten, 0)
  if (layers === 0) {
    const seen = reports.reduce((n, r) => n + r.selfAttention, 0)
    const why = best
      ? `closest partial match: ${best.reason}`
      : seen > 0
        ? `found ${seen} attention layers, all self-attention: none takes keys/values from "${contextInput}" (is that the right --context-input?)`
        : 'no attention of any known form (decomposed MatMul/Softmax/MatMul, com.microsoft MultiHeadAttention/Attention, ONNX Attention)'
    throw new NoCrossAttentionError(`no cross-attention layer could be rewritten; ${why}`)
  }

  ctx.declareNegativeContext()
  const nodes = [...(graph.node ?? []), ...ctx.added]
  const producer = new Map<string, (typeof nodes)[number]>()
  for (const node of nodes) for (const o of node.output ?? []) if (o) producer.set(o, node)
  graph.node = topologicalOrder(nodes, producer)
  return { mode, rules: reports, layers, nodesAdded: ctx.added.length }
}
