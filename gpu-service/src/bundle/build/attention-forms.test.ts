import { describe, expect, it } from 'vitest'
import { encodeModel, onnx } from '../../onnx/onnx-proto.ts'
import { createSession, runSession, tensor } from '../../runtime/onnx-backend.ts'
import { attentionForms, MS_DOMAIN, opsetFor } from './attention.ts'
import { presets } from './presets.ts'
import { buildUnet, crossAttentionLayerCount } from './unet.ts'

const config = presets.tiny.unet
const seeded = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.8)

async function runUnet(form: (typeof attentionForms)[number]) {
  const model = buildUnet(config, form, 7).toModel({ opset: opsetFor(form) })
  const session = await createSession(encodeModel(model), { log: () => {} })
  const out = await runSession(session, {
    sample: tensor('float32', seeded(2 * 4 * 8 * 8, 1), [2, 4, 8, 8]),
    timestep: tensor('float32', new Float32Array([999]), []),
    encoder_hidden_states: tensor('float32', seeded(2 * 77 * 32, 2), [2, 77, 32]),
  })
  return out.out_sample!.data as Float32Array
}

/** Nodes whose name says they belong to a cross-attention (attn2) layer, grouped per layer. */
function crossAttentionLayers(form: (typeof attentionForms)[number]): Set<string> {
  const model = onnx.ModelProto.decode(encodeModel(buildUnet(config, form, 7).toModel({ opset: opsetFor(form) })))
  const layers = new Set<string>()
  for (const node of model.graph?.node ?? []) {
    const match = /^(.*\.attn2)\./.exec(node.name ?? '')
    if (match) layers.add(match[1]!)
  }
  return layers
}

describe('UNet attention forms', () => {
  it('emit the same function: decomposed, split-scale, MultiHeadAttention and opset-23 Attention agree', async () => {
    const reference = await runUnet('decomposed')
    expect(reference.some((v) => !Number.isFinite(v))).toBe(false)
    for (const form of ['decomposed-split-scale', 'mha', 'onnx-attention'] as const) {
      const out = await runUnet(form)
      let worst = 0
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - reference[i]!))
      expect(worst, form).toBeLessThan(1e-4)
    }
  })

  it.each(attentionForms)('%s has one cross-attention per transformer block', (form) => {
    expect(crossAttentionLayers(form).size).toBe(crossAttentionLayerCount(config))
  })

  it('uses the fused ORT ops in the packed-KV form', () => {
    const model = onnx.ModelProto.decode(encodeModel(buildUnet(config, 'mha-packed-kv', 7).toModel()))
    const ops = (model.graph?.node ?? []).filter((n) => n.domain === MS_DOMAIN)
    const cross = ops.filter((n) => n.opType === 'MultiHeadAttention')
    const self = ops.filter((n) => n.opType === 'Attention')
    expect(cross).toHaveLength(crossAttentionLayerCount(config))
    expect(self).toHaveLength(crossAttentionLayerCount(config))
    // Packed KV: query and one [B, L, H, 2, d] tensor, no separate value input.
    for (const node of cross) expect(node.input).toHaveLength(2)
    expect(model.opsetImport?.map((o) => o.domain)).toContain(MS_DOMAIN)
  })

  it('counts SD2.1\'s 16 cross-attention layers', () => {
    expect(crossAttentionLayerCount(presets.sd21.unet)).toBe(16)
    expect(crossAttentionLayerCount(presets.bench.unet)).toBe(16)
  })
})
