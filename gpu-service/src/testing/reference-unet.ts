/**
 * An independent reference of the model builder's UNet, written directly from the architecture in
 * plain TypeScript (no ONNX, no onnxruntime): it reads the weights by their names and computes the
 * forward pass, with NASA or NAG applied natively in every cross-attention. Tests compare onnxruntime
 * running the rewritten graph against it. Float64 arithmetic; fine for the `tiny` preset's sizes.
 */
import type { UnetConfig } from '../bundle/build/unet.ts'

export interface Tensor {
  data: Float64Array
  shape: number[]
}

export type ReferenceGuidance =
  | { mode: 'nasa'; negative: Tensor; alpha: number[] }
  | { mode: 'nasa-proj'; negative: Tensor; alpha: number[] }
  | { mode: 'nag'; negative: Tensor; scale: number[]; tau: number[]; alpha: number[]; norm: 'l1' | 'l2' }

const t = (shape: number[], data = new Float64Array(shape.reduce((a, b) => a * b, 1))): Tensor => ({ data, shape })

// Abramowitz & Stegun 7.1.26 is too coarse; this is W. J. Cody's rational erf via erfc for |x| ≥ 0.5,
// accurate to ~1e-14, which keeps the reference far below the test tolerance.
function erf(x: number): number {
  const a = Math.abs(x)
  if (a < 0.5) {
    const x2 = x * x
    let sum = x
    let term = x
    for (let n = 1; n < 40; n++) {
      term *= -x2 / n
      sum += term / (2 * n + 1)
    }
    return (2 / Math.sqrt(Math.PI)) * sum
  }
  // Continued fraction for erfc (Lentz), converges fast for |x| ≥ 0.5.
  let f = a
  let c = a
  let d = 0
  for (let n = 1; n < 200; n++) {
    const an = n / 2
    d = a + an * d
    d = 1 / d
    c = a + an / c
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  const erfc = Math.exp(-a * a) / (f * Math.sqrt(Math.PI))
  return x >= 0 ? 1 - erfc : erfc - 1
}

export class ReferenceUnet {
  private readonly w: Map<string, Float64Array>
  private readonly config: UnetConfig

  constructor(weights: Map<string, Float32Array>, config: UnetConfig) {
    this.w = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]))
    this.config = config
  }

  private get(name: string): Float64Array {
    const value = this.w.get(name)
    if (!value) throw new Error(`reference: no weight ${name}`)
    return value
  }

  forward(sample: Tensor, timestep: number, context: Tensor, guidance?: ReferenceGuidance): Tensor {
    const c = this.config
    const c0 = c.blockOutChannels[0] as number
    const temb = this.timeEmbedding(timestep, c0, sample.shape[0] as number)
    const run = { temb, context, guidance }
    let h = this.conv(sample, 'conv_in', 1)
    const skips: Tensor[] = [h]
    c.blockOutChannels.forEach((_, level) => {
      for (let i = 0; i < c.layersPerBlock; i++) {
        h = this.resnet(h, `down_blocks.${level}.resnets.${i}`, run.temb)
        if (c.crossAttentionLevels[level]) h = this.transformer(h, `down_blocks.${level}.attentions.${i}`, run)
        skips.push(h)
      }
      if (level < c.blockOutChannels.length - 1) {
        h = this.conv(h, `down_blocks.${level}.downsamplers.0.conv`, 2)
        skips.push(h)
      }
    })
    h = this.resnet(h, 'mid_block.resnets.0', run.temb)
    h = this.transformer(h, 'mid_block.attentions.0', run)
    h = this.resnet(h, 'mid_block.resnets.1', run.temb)
    const levels = c.blockOutChannels.length
    for (let up = 0; up < levels; up++) {
      const level = levels - 1 - up
      for (let i = 0; i <= c.layersPerBlock; i++) {
        h = concatChannels(h, skips.pop() as Tensor)
        h = this.resnet(h, `up_blocks.${up}.resnets.${i}`, run.temb)
        if (c.crossAttentionLevels[level]) h = this.transformer(h, `up_blocks.${up}.attentions.${i}`, run)
      }
      if (up < levels - 1) h = this.conv(upsample2(h), `up_blocks.${up}.upsamplers.0.conv`, 1)
    }
    h = silu(this.groupNorm(h, 'conv_norm_out', 1e-5))
    return this.conv(h, 'conv_out', 1)
  }

  private timeEmbedding(timestep: number, channels: number, batch: number): Tensor {
    const half = channels / 2
    const emb = t([1, channels])
    for (let i = 0; i < half; i++) {
      // The graph multiplies in float32; doing the same keeps cos/sin of t ≈ 999 comparable.
      const arg = Math.fround(Math.fround(timestep) * Math.fround(Math.exp((-Math.log(10000) * i) / half)))
      emb.data[i] = Math.cos(arg)
      emb.data[half + i] = Math.sin(arg)
    }
    const hidden = silu(this.linear(emb, 'time_embedding.linear_1'))
    const out = this.linear(hidden, 'time_embedding.linear_2')
    void batch
    return out // [1, timeDim], broadcast over the batch as the graph does
  }

  private linear(x: Tensor, prefix: string, bias = true): Tensor {
    const weight = this.get(`${prefix}.weight`)
    const inF = x.shape.at(-1) as number
    const outF = weight.length / inF
    const rows = x.data.length / inF
    const y = t([...x.shape.slice(0, -1), outF])
    const b = bias ? this.get(`${prefix}.bias`) : undefined
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outF; o++) {
        let s = b ? (b[o] as number) : 0
        for (let i = 0; i < inF; i++) s += (x.data[r * inF + i] as number) * (weight[i * outF + o] as number)
        y.data[r * outF + o] = s
      }
    }
    return y
  }

  private conv(x: Tensor, prefix: string, stride: number): Tensor {
    const weight = this.get(`${prefix}.weight`)
    const bias = this.get(`${prefix}.bias`)
    const [B, C, H, W] = x.shape as [number, number, number, number]
    const O = bias.length
    const k = Math.round(Math.sqrt(weight.length / (O * C)))
    const pad = Math.floor(k / 2)
    const Ho = Math.floor((H + 2 * pad - k) / stride) + 1
    const Wo = Math.floor((W + 2 * pad - k) / stride) + 1
    const y = t([B, O, Ho, Wo])
    for (let b = 0; b < B; b++)
      for (let o = 0; o < O; o++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++) {
            let s = bias[o] as number
            for (let ci = 0; ci < C; ci++)
              for (let ki = 0; ki < k; ki++) {
                const yi = i * stride + ki - pad
                if (yi < 0 || yi >= H) continue
                for (let kj = 0; kj < k; kj++) {
                  const xj = j * stride + kj - pad
                  if (xj < 0 || xj >= W) continue
                  s += (x.data[((b * C + ci) * H + yi) * W + xj] as number) * (weight[((o * C + ci) * k + ki) * k + kj] as number)
                }
              }
            y.data[((b * O + o) * Ho + i) * Wo + j] = s
          }
    return y
  }

  private groupNorm(x: Tensor, prefix: string, eps: number): Tensor {
    const [B, C] = x.shape as [number, number]
    const spatial = x.data.length / (B * C)
    const groups = this.config.normGroups
    const per = (C / groups) * spatial
    const gamma = this.get(`${prefix}.weight`)
    const beta = this.get(`${prefix}.bias`)
    const y = t([...x.shape])
    for (let b = 0; b < B; b++)
      for (let g = 0; g < groups; g++) {
        const start = (b * C + g * (C / groups)) * spatial
        let mean = 0
        for (let i = 0; i < per; i++) mean += x.data[start + i] as number
        mean /= per
        let variance = 0
        for (let i = 0; i < per; i++) variance += ((x.data[start + i] as number) - mean) ** 2
        variance /= per
        const inv = 1 / Math.sqrt(variance + eps)
        for (let i = 0; i < per; i++) {
          const channel = g * (C / groups) + Math.floor(i / spatial)
          y.data[start + i] = ((x.data[start + i] as number) - mean) * inv * (gamma[channel] as number) + (beta[channel] as number)
        }
      }
    return y
  }

  private layerNorm(x: Tensor, prefix: string): Tensor {
    const D = x.shape.at(-1) as number
    const gamma = this.get(`${prefix}.weight`)
    const beta = this.get(`${prefix}.bias`)
    const y = t([...x.shape])
    for (let r = 0; r < x.data.length / D; r++) {
      let mean = 0
      for (let i = 0; i < D; i++) mean += x.data[r * D + i] as number
      mean /= D
      let variance = 0
      for (let i = 0; i < D; i++) variance += ((x.data[r * D + i] as number) - mean) ** 2
      const inv = 1 / Math.sqrt(variance / D + 1e-5)
      for (let i = 0; i < D; i++) y.data[r * D + i] = ((x.data[r * D + i] as number) - mean) * inv * (gamma[i] as number) + (beta[i] as number)
    }
    return y
  }

  private resnet(x: Tensor, prefix: string, temb: Tensor): Tensor {
    let h = this.conv(silu(this.groupNorm(x, `${prefix}.norm1`, 1e-5)), `${prefix}.conv1`, 1)
    const tproj = this.linear(silu(temb), `${prefix}.time_emb_proj`)
    const [B, C, H, W] = h.shape as [number, number, number, number]
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) h.data[(b * C + c) * H * W + i]! += tproj.data[c] as number
    h = this.conv(silu(this.groupNorm(h, `${prefix}.norm2`, 1e-5)), `${prefix}.conv2`, 1)
    const shortcut = this.w.has(`${prefix}.conv_shortcut.weight`) ? this.conv(x, `${prefix}.conv_shortcut`, 1) : x
    return add(shortcut, h)
  }

  private transformer(x: Tensor, prefix: string, run: { context: Tensor; guidance: ReferenceGuidance | undefined }): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number]
    const normed = this.groupNorm(x, `${prefix}.norm`, 1e-6)
    const tokens = t([B, H * W, C])
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let s = 0; s < H * W; s++) tokens.data[(b * H * W + s) * C + c] = normed.data[(b * C + c) * H * W + s] as number
    let h = this.linear(tokens, `${prefix}.proj_in`)
    const block = `${prefix}.transformer_blocks.0`
    const heads = C / this.config.headDim
    h = add(h, this.attention(this.layerNorm(h, `${block}.attn1.norm1`), undefined, `${block}.attn1`, heads))
    h = add(h, this.attention(this.layerNorm(h, `${block}.attn2.norm2`), run.context, `${block}.attn2`, heads, run.guidance))
    h = add(h, this.geglu(this.layerNorm(h, `${block}.ff.norm3`), `${block}.ff`))
    h = this.linear(h, `${prefix}.proj_out`)
    const out = t([B, C, H, W])
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let s = 0; s < H * W; s++) out.data[(b * C + c) * H * W + s] = h.data[(b * H * W + s) * C + c] as number
    return add(out, x)
  }

  /** Attention before the output projection, Z = softmax(QKᵀ/√d)V, per head. */
  private core(q: Tensor, k: Tensor, v: Tensor, heads: number): Tensor {
    const [B, S, C] = q.shape as [number, number, number]
    const L = k.shape[1] as number
    const d = C / heads
    const z = t([B, S, C])
    const scores = new Float64Array(L)
    for (let b = 0; b < B; b++)
      for (let hd = 0; hd < heads; hd++)
        for (let s = 0; s < S; s++) {
          let max = -Infinity
          for (let l = 0; l < L; l++) {
            let dot = 0
            for (let i = 0; i < d; i++) dot += (q.data[(b * S + s) * C + hd * d + i] as number) * (k.data[(b * L + l) * C + hd * d + i] as number)
            scores[l] = dot / Math.sqrt(d)
            max = Math.max(max, scores[l] as number)
          }
          let sum = 0
          for (let l = 0; l < L; l++) sum += scores[l] = Math.exp((scores[l] as number) - max)
          for (let i = 0; i < d; i++) {
            let acc = 0
            for (let l = 0; l < L; l++) acc += ((scores[l] as number) / sum) * (v.data[(b * L + l) * C + hd * d + i] as number)
            z.data[(b * S + s) * C + hd * d + i] = acc
          }
        }
    return z
  }

  private attention(x: Tensor, context: Tensor | undefined, prefix: string, heads: number, guidance?: ReferenceGuidance): Tensor {
    const kv = context ?? x
    if (!context && this.w.has(`${prefix}.to_qkv.weight`)) {
      // ORT's fused self-attention: one [C, 3C] weight holding Q, K and V side by side.
      const qkv = this.linear(x, `${prefix}.to_qkv`)
      const [q, k, v] = splitLast(qkv, 3) as [Tensor, Tensor, Tensor]
      return this.linear(this.core(q, k, v, heads), `${prefix}.to_out.0`)
    }
    const q = this.linear(x, `${prefix}.to_q`, false)
    let z = this.core(q, this.linear(kv, `${prefix}.to_k`, false), this.linear(kv, `${prefix}.to_v`, false), heads)
    if (context && guidance) {
      const neg = guidance.negative
      const zNeg = this.core(q, this.linear(neg, `${prefix}.to_k`, false), this.linear(neg, `${prefix}.to_v`, false), heads)
      z = guidance.mode === 'nasa' ? nasa(z, zNeg, guidance.alpha) : guidance.mode === 'nasa-proj' ? nasaProjected(z, zNeg, guidance.alpha) : nag(z, zNeg, guidance)
    }
    return this.linear(z, `${prefix}.to_out.0`)
  }

  private geglu(x: Tensor, prefix: string): Tensor {
    const projected = this.linear(x, `${prefix}.net.0.proj`)
    const inner = (projected.shape.at(-1) as number) / 2
    const rows = projected.data.length / (2 * inner)
    const hidden = t([...projected.shape.slice(0, -1), inner])
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < inner; i++) {
        const a = projected.data[r * 2 * inner + i] as number
        const gate = projected.data[r * 2 * inner + inner + i] as number
        hidden.data[r * inner + i] = a * 0.5 * gate * (1 + erf(gate / Math.SQRT2))
      }
    return this.linear(hidden, `${prefix}.net.2`)
  }
}

/** Z+ − α_b·Z− per batch row. */
export function nasa(zPos: Tensor, zNeg: Tensor, alpha: number[]): Tensor {
  const [B] = zPos.shape as [number]
  const per = zPos.data.length / B
  const out = t([...zPos.shape])
  for (let b = 0; b < B; b++) for (let i = 0; i < per; i++) out.data[b * per + i] = (zPos.data[b * per + i] as number) - (alpha[b] as number) * (zNeg.data[b * per + i] as number)
  return out
}

/** Per token (channels = last axis): Z+ − α_b·max(0, ⟨Z+, Z−⟩ / ‖Z−‖²)·Z−. */
export function nasaProjected(zPos: Tensor, zNeg: Tensor, alpha: number[]): Tensor {
  const [B, S, C] = zPos.shape as [number, number, number]
  const out = t([...zPos.shape])
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++) {
      const base = (b * S + s) * C
      let along = 0
      let length = 0
      for (let i = 0; i < C; i++) {
        along += (zPos.data[base + i] as number) * (zNeg.data[base + i] as number)
        length += (zNeg.data[base + i] as number) ** 2
      }
      const c = (alpha[b] as number) * Math.max(0, along / (length + 1e-6))
      for (let i = 0; i < C; i++) out.data[base + i] = (zPos.data[base + i] as number) - c * (zNeg.data[base + i] as number)
    }
  return out
}

/** NAG per token (channels = last axis): extrapolate, clip the norm ratio at τ, blend with Z+. */
export function nag(zPos: Tensor, zNeg: Tensor, g: { scale: number[]; tau: number[]; alpha: number[]; norm: 'l1' | 'l2' }): Tensor {
  const [B, S, C] = zPos.shape as [number, number, number]
  const out = t([...zPos.shape])
  const norm = (v: number[]) => (g.norm === 'l1' ? v.reduce((s, x) => s + Math.abs(x), 0) : Math.sqrt(v.reduce((s, x) => s + x * x, 0)))
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++) {
      const base = (b * S + s) * C
      const pos = Array.from({ length: C }, (_, i) => zPos.data[base + i] as number)
      const neg = Array.from({ length: C }, (_, i) => zNeg.data[base + i] as number)
      const phi = g.scale[b] as number
      let ext = pos.map((p, i) => phi * p - (phi - 1) * (neg[i] as number))
      const ratio = norm(ext) / norm(pos)
      if (ratio > (g.tau[b] as number)) ext = ext.map((e) => (e * (g.tau[b] as number)) / ratio)
      const a = g.alpha[b] as number
      for (let i = 0; i < C; i++) out.data[base + i] = a * (ext[i] as number) + (1 - a) * (pos[i] as number)
    }
  return out
}

function splitLast(x: Tensor, parts: number): Tensor[] {
  const width = (x.shape.at(-1) as number) / parts
  const rows = x.data.length / (width * parts)
  return Array.from({ length: parts }, (_, p) => {
    const out = t([...x.shape.slice(0, -1), width])
    for (let r = 0; r < rows; r++) out.data.set(x.data.subarray(r * width * parts + p * width, r * width * parts + (p + 1) * width), r * width)
    return out
  })
}

function silu(x: Tensor): Tensor {
  return { shape: x.shape, data: x.data.map((v) => v / (1 + Math.exp(-v))) }
}

function add(a: Tensor, b: Tensor): Tensor {
  return { shape: a.shape, data: a.data.map((v, i) => v + (b.data[i] as number)) }
}

function concatChannels(a: Tensor, b: Tensor): Tensor {
  const [B, Ca, H, W] = a.shape as [number, number, number, number]
  const Cb = b.shape[1] as number
  const out = t([B, Ca + Cb, H, W])
  const hw = H * W
  for (let n = 0; n < B; n++) {
    out.data.set(a.data.subarray(n * Ca * hw, (n + 1) * Ca * hw), n * (Ca + Cb) * hw)
    out.data.set(b.data.subarray(n * Cb * hw, (n + 1) * Cb * hw), (n * (Ca + Cb) + Ca) * hw)
  }
  return out
}

function upsample2(x: Tensor): Tensor {
  const [B, C, H, W] = x.shape as [number, number, number, number]
  const out = t([B, C, 2 * H, 2 * W])
  for (let p = 0; p < B * C; p++)
    for (let i = 0; i < 2 * H; i++)
      for (let j = 0; j < 2 * W; j++) out.data[(p * 2 * H + i) * 2 * W + j] = x.data[(p * H + (i >> 1)) * W + (j >> 1)] as number
  return out
}
