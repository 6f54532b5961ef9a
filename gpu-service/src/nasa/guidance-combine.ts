import { NAG_INPUTS, NASA_SCALE_INPUT, type RewriteContext, type ZLayout } from './rewrite-context.ts'

/**
 * Combines one layer's positive and negative attention outputs (before the output projection).
 * - NASA: Z = Z+ − α·Z−, α = `nasa_scale` per row (0 leaves the row unchanged).
 * - NAG: Z̃ = φ·Z+ − (φ−1)·Z−; per token, if ‖Z̃‖/‖Z+‖ > τ, Z̃ is scaled to τ·‖Z+‖; Z = a·Z̃ + (1−a)·Z+
 *   with φ = `nag_scale`, τ = `nag_tau`, a = `nag_alpha` per row (φ = 1 or a = 0 leaves the row
 *   unchanged); the norm (L1 or L2) runs over the channels of each token.
 */
export function combine(ctx: RewriteContext, positive: string, negative: string, layout: ZLayout): string {
  if (ctx.mode === 'nasa') {
    const alpha = ctx.rowValue(NASA_SCALE_INPUT, layout)
    return ctx.addNode('Sub', [positive, ctx.addNode('Mul', [negative, alpha], [], 'nasa_scaled_negative')], [], 'nasa_combine')
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
  const op = ctx.norm === 'l1' ? 'ReduceL1' : 'ReduceL2'
  const axes = layout === 'BHSD' ? [1, 3] : [2]
  // Opset 18 moved `axes` from an attribute to an input.
  if (ctx.opset >= 18) return ctx.addNode(op, [z, ctx.int64(axes)], [{ name: 'keepdims', type: 2, i: 1 }], 'nag_norm')
  return ctx.addNode(op, [z], [{ name: 'axes', type: 7, ints: axes }, { name: 'keepdims', type: 2, i: 1 }], 'nag_norm')
}
