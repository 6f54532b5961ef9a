import { float, type GraphBuilder } from '../../onnx/graph-builder.ts'

/**
 * Neural-network layers as ONNX subgraphs, in the shapes torch.onnx exports them (GroupNorm as
 * Reshape → InstanceNormalization → Reshape → affine, Linear as MatMul + Add, GELU via Erf), so the
 * generated models exercise the same graph patterns as real exported checkpoints.
 */

export function linear(g: GraphBuilder, x: string, inFeatures: number, outFeatures: number, { bias = true } = {}): string {
  const y = g.op('MatMul', [x, g.weight('weight', [inFeatures, outFeatures])])
  return bias ? g.op('Add', [y, g.weight('bias', [outFeatures], { std: 0.02 })]) : y
}

export function conv2d(
  g: GraphBuilder,
  x: string,
  inChannels: number,
  outChannels: number,
  { kernel = 3, stride = 1 }: { kernel?: number; stride?: number } = {},
): string {
  const pad = Math.floor(kernel / 2)
  return g.op(
    'Conv',
    [x, g.weight('weight', [outChannels, inChannels, kernel, kernel]), g.weight('bias', [outChannels], { std: 0.02 })],
    { kernel_shape: [kernel, kernel], pads: [pad, pad, pad, pad], strides: [stride, stride] },
  )
}

export function groupNorm(g: GraphBuilder, x: string, channels: number, groups: number, epsilon = 1e-5): string {
  const grouped = g.op('Reshape', [x, g.int64([0, groups, -1])])
  const normed = g.op('InstanceNormalization', [grouped, g.weight('in_scale', [groups], { fill: 1 }), g.weight('in_bias', [groups], { fill: 0 })], {
    epsilon: float(epsilon),
  })
  const restored = g.op('Reshape', [normed, g.op('Shape', [x])])
  const scaled = g.op('Mul', [restored, g.weight('weight', [channels, 1, 1], { mean: 1, std: 0.1 })])
  return g.op('Add', [scaled, g.weight('bias', [channels, 1, 1], { std: 0.02 })])
}

export function layerNorm(g: GraphBuilder, x: string, dim: number, epsilon = 1e-5): string {
  return g.op('LayerNormalization', [x, g.weight('weight', [dim], { fill: 1 }), g.weight('bias', [dim], { fill: 0 })], {
    axis: -1,
    epsilon: float(epsilon),
  })
}

export const silu = (g: GraphBuilder, x: string): string => g.op('Mul', [x, g.op('Sigmoid', [x])])

/** Exact GELU, 0.5·x·(1 + erf(x/√2)), as torch exports it. */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])])
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [erf, g.scalar(1)])])
}

/** CLIP's quick GELU, x·σ(1.702x). */
export const quickGelu = (g: GraphBuilder, x: string): string => g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.scalar(1.702)])])])

/** GEGLU feed-forward of Stable Diffusion's transformer blocks: proj to 2·inner, split, a·gelu(gate), proj back. */
export function gegluFeedForward(g: GraphBuilder, x: string, dim: number, mult = 4): string {
  const inner = dim * mult
  const projected = g.scope('net.0.proj', () => linear(g, x, dim, inner * 2))
  const [a, gate] = g.op('Split', [projected, g.int64([inner, inner])], { axis: -1 }, { outputs: 2 }) as [string, string]
  const hidden = g.op('Mul', [a, gelu(g, gate)])
  return g.scope('net.2', () => linear(g, hidden, inner, dim))
}
