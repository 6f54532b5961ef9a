import { DataType } from '../../onnx/onnx-proto.ts'
import type { GraphBuilder } from '../../onnx/graph-builder.ts'
import { linear } from './layers.ts'

/**
 * The forms in which attention appears in exported graphs (gpu-service/src/nasa/README.md):
 * - `decomposed`: MatMul(Q, Kᵀ) → Mul(scale) → Softmax → MatMul(·, V) (torch export, scale on scores);
 * - `decomposed-split-scale`: the same with √scale applied to Q and to Kᵀ before the MatMul;
 * - `mha`: com.microsoft MultiHeadAttention with separate Q, K, V (ORT's fused form);
 * - `mha-packed-kv`: self-attention as com.microsoft Attention (packed QKV weights), cross-attention as
 *   MultiHeadAttention with packed KV `[B, L, H, 2, d]` (what ORT's SD optimizer emits);
 * - `onnx-attention`: the ONNX opset-23 `Attention` op.
 */
export const attentionForms = ['decomposed', 'decomposed-split-scale', 'mha', 'mha-packed-kv', 'onnx-attention'] as const
export type AttentionForm = (typeof attentionForms)[number]

export const MS_DOMAIN = 'com.microsoft'

/** Default-domain opset an attention form needs. */
export const opsetFor = (form: AttentionForm): number => (form === 'onnx-attention' ? 23 : 17)

export interface AttentionSpec {
  /** Query input `[B, S, dim]`. */
  x: string
  /** Key/value input `[B, L, contextDim]`; absent for self-attention. */
  context?: string
  dim: number
  contextDim?: number
  heads: number
  form: AttentionForm
  /** Additive mask `[S, S]` (decomposed forms only; used by the causal text encoder). */
  mask?: string
}

/** Multi-head attention with SD's projections (to_q/to_k/to_v without bias, to_out.0 with bias). */
export function attention(g: GraphBuilder, spec: AttentionSpec): string {
  const { x, dim, heads, form } = spec
  const kvInput = spec.context ?? x
  const kvDim = spec.context ? (spec.contextDim ?? dim) : dim
  const headDim = dim / heads
  if (!Number.isInteger(headDim)) throw new Error(`attention: dim ${dim} is not divisible by ${heads} heads`)
  if (spec.mask && (form !== 'decomposed' && form !== 'decomposed-split-scale')) {
    throw new Error(`attention: masks are only emitted in the decomposed forms, not ${form}`)
  }

  let z: string
  if (form === 'mha-packed-kv' && !spec.context) {
    // ORT fuses self-attention into com.microsoft Attention with one [dim, 3·dim] weight.
    const weights = g.weight('to_qkv.weight', [dim, 3 * dim])
    const bias = g.weight('to_qkv.bias', [3 * dim], { fill: 0 })
    z = g.op('Attention', [x, weights, bias], { num_heads: heads }, { domain: MS_DOMAIN })
  } else {
    const q = g.scope('to_q', () => linear(g, x, dim, dim, { bias: false }))
    const k = g.scope('to_k', () => linear(g, kvInput, kvDim, dim, { bias: false }))
    const v = g.scope('to_v', () => linear(g, kvInput, kvDim, dim, { bias: false }))
    z = attend(g, { q, k, v, heads, headDim, form, mask: spec.mask })
  }
  return g.scope('to_out.0', () => linear(g, z, dim, dim))
}

function attend(
  g: GraphBuilder,
  { q, k, v, heads, headDim, form, mask }: { q: string; k: string; v: string; heads: number; headDim: number; form: AttentionForm; mask: string | undefined },
): string {
  const scale = 1 / Math.sqrt(headDim)
  switch (form) {
    case 'mha':
      return g.op('MultiHeadAttention', [q, k, v], { num_heads: heads }, { domain: MS_DOMAIN })
    case 'mha-packed-kv': {
      const split = g.int64([0, 0, heads, 1, headDim])
      const packed = g.op('Concat', [g.op('Reshape', [k, split]), g.op('Reshape', [v, split])], { axis: 3 })
      return g.op('MultiHeadAttention', [q, packed], { num_heads: heads }, { domain: MS_DOMAIN })
    }
    case 'onnx-attention':
      return g.op('Attention', [q, k, v], { q_num_heads: heads, kv_num_heads: heads })
    case 'decomposed':
    case 'decomposed-split-scale': {
      const toHeads = g.int64([0, 0, heads, headDim])
      const qh = g.op('Transpose', [g.op('Reshape', [q, toHeads])], { perm: [0, 2, 1, 3] })
      const kt = g.op('Transpose', [g.op('Reshape', [k, toHeads])], { perm: [0, 2, 3, 1] })
      const vh = g.op('Transpose', [g.op('Reshape', [v, toHeads])], { perm: [0, 2, 1, 3] })
      let scores: string
      if (form === 'decomposed') {
        scores = g.op('Mul', [g.op('MatMul', [qh, kt]), g.scalar(scale)])
      } else {
        const root = g.scalar(Math.sqrt(scale))
        scores = g.op('MatMul', [g.op('Mul', [qh, root]), g.op('Mul', [kt, root])])
      }
      if (mask) scores = g.op('Add', [scores, mask])
      const probs = g.op('Softmax', [scores], { axis: -1 })
      const out = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] })
      return g.op('Reshape', [out, g.int64([0, 0, heads * headDim])])
    }
  }
}

/** A constant causal mask `[n, n]`: 0 on and below the diagonal, a large negative value above. */
export function causalMask(g: GraphBuilder, n: number): string {
  const values = new Float32Array(n * n)
  const negative = g.floatType === DataType.FLOAT16 ? -65504 : -1e9
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) values[i * n + j] = negative
  return g.tensor('causal_mask', [n, n], values)
}
