import { NAG_INPUTS, NASA_SCALE_INPUT, type RewriteContext, type ZLayout } from './rewrite-context.ts'

/**
 * Combines one layer's positive and negative attention outputs (before the output projection).
 * - NASA: Z = Z+ − α·Z−, α = `nasa_scale` per row (0 leaves the row unchanged).
 * - NASA with projection (`nasa-proj`): Z = Z+ − α·c·Z−, c = max(0, ⟨Z+, Z−⟩ / ‖Z−‖²) per token
 *   (over all its channels): each token loses the part of it that points along the negative branch,
 *   scaled by α, and nothing where Z+ does not point that way.
 * - NAG: Z̃ = φ·Z+ − (φ−1)·Z−; per token, if ‖Z̃‖/‖Z+‖ > τ, Z̃ is scaled to τ·‖Z+‖; Z = a·Z̃ + (1−a)·Z+
 *   with φ = `nag_scale`, τ = `nag_tau`, a = `nag_alpha` per row (φ = 1 or a = 0 leaves the row
 *   unchanged); the norm (L1 or L2) runs over the channels of each token.
 */
export function combine(ctx: RewriteContext, positive: string, negative: string, layout: ZLayout): string {
  if (ctx.mode === 'nasa') {
    const alpha = ctx.rowValue(NASA_SCALE_INPUT, layout)
    return ctx.addNode('Sub', [positive, ctx.addNode('Mul', [negative, alpha], [], 'nasa_scaled_negative')], [], 'nasa_combine')
  }
  if (ctx.mode === 'nasa-proj') {
    const alpha = ctx.rowValue(NASA_SCALE_INPUT, layout)
    const along = tokenSum(ctx, ctx.addNode('Mul', [positive, negative]), layout)
    const length = tokenSum(ctx, ctx.addNode('Mul', [negative, negative]), layout)
    const ratio = ctx.addNode('Div', [along, ctx.addNode('Add', [length, ctx.scalar(1e-6)])], [], 'nasa_projection')
    const coefficient = ctx.addNode('Mul', [ctx.addNode('Relu', [ratio]), alpha], [], 'nasa_projection_scaled')
    return ctx.addNode('Sub', [positive, ctx.addNode('Mul', [negative, coefficient], [], 'nasa_scaled_negative')], [], 'nasa_combine')
  }
  const phi = ctx.rowValue(NAG_INPUTS.scale, layout)
  const tau = ctx.rowValue(NAG_INPUTS.tau, layout)
  const a = ctx.rowValue(NAG_INPUTS.alpha, layout)
  const phiMinusOne = ctx.cachedNode(`phi-1:${layout}`, () => ctx.addNode('Sub', [phi, ctx.scalar(1)], [], 'nag_phi_minus_one'))
  const oneMinusA = ctx.cachedNode(`1-a:${layout}`, () => ctx.addNode('Sub', [ctx.scalar(1), a], [], 'nag_one_minus_alpha'))
  const extrapolated = ctx.addNode('Sub', [ctx.addNode('Mul', [positive, phi]), ctx.addNode('Mul', [negative, phiMinusOne])], [], 'nag_extrapolate')
  const normPositive = tokenNorm(ctx, positive, layout)
  const normExtrapolated = tokenNorm(ctx, extrapolated, layout)
  // factor = min(1, τ‖Z+‖ / ‖Z̃‖): rescales only the tokens whose ratio exceeds τ.
  const limit = ctx.addNode('Div', [ctx.addNode('Mul', [normPositive, tau]), ctx.addNode('Add', [normExtrapolated, ctx.scalar(1e-6)])], [], 'nag_limit')
  const factor = ctx.addNode('Min', [limit, ctx.scalar(1)], [], 'nag_factor')
  const clipped = ctx.addNode('Mul', [extrapolated, factor], [], 'nag_clipped')
  return ctx.addNode('Add', [ctx.addNode('Mul', [clipped, a]), ctx.addNode('Mul', [positive, oneMinusA])], [], 'nag_combine')
}

function tokenNorm(ctx: RewriteContext, z: string, layout: ZLayout): string {
  return tokenReduce(ctx, ctx.norm === 'l1' ? 'ReduceL1' : 'ReduceL2', z, layout, 'nag_norm')
}

const tokenSum = (ctx: RewriteContext, z: string, layout: ZLayout): string => tokenReduce(ctx, 'ReduceSum', z, layout, 'nasa_token_sum')

/** `op` over the channels of each token (all heads), keeping the dimensions. */
function tokenReduce(ctx: RewriteContext, op: string, z: string, layout: ZLayout, name: string): string {
  const axes = layout === 'BHSD' ? [1, 3] : [2]
  // `axes` moved from an attribute to an input: ReduceSum at opset 13, the others at 18.
  if (ctx.opset >= (op === 'ReduceSum' ? 13 : 18)) return ctx.addNode(op, [z, ctx.int64(axes)], [{ name: 'keepdims', type: 2, i: 1 }], name)
  return ctx.addNode(op, [z], [{ name: 'axes', type: 7, ints: axes }, { name: 'keepdims', type: 2, i: 1 }], name)
}
