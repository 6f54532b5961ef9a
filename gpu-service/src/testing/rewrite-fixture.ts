/**
 * Shared by the NASA/NAG rewrite tests (nasa/rewrite.test.ts and one test per rule beside
 * nasa/rules/*): the tiny preset's UNet in each attention form, onnxruntime running it (through the
 * runtime backend), and the independent reference UNet that judges the rewritten graph.
 */
import { describe, expect, it } from 'vitest'
import { attentionForms, opsetFor, type AttentionForm } from '../bundle/build/attention.ts'
import { presets } from '../bundle/build/presets.ts'
import { buildUnet, crossAttentionLayerCount } from '../bundle/build/unet.ts'
import { DataType, decodeModel, encodeModel, type ModelProto } from '../onnx/onnx-proto.ts'
import { rewriteForNegativeGuidance, type RewriteOptions } from '../nasa/rewrite.ts'
import { checkGraph } from '../nasa/graph-check.ts'
import type { RewriteRule } from '../nasa/rules/rule.ts'
import { createSession, disposeSession, runSession, tensor, type Feeds, type Tensor as OrtTensor } from '../runtime/onnx-backend.ts'
import { ReferenceUnet, type ReferenceGuidance, type Tensor } from './reference-unet.ts'
import { unpackKvForCpu } from './unpack-kv.ts'

export const config = presets.tiny.unet
export const layers = crossAttentionLayerCount(config)
export const B = 2
const seeded = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.8)
export const sample = seeded(B * 4 * 8 * 8, 1)
export const context = seeded(B * 77 * 32, 2)
export const negative = seeded(B * 77 * 32, 3)
export const f32 = (data: Float32Array, dims: number[]): OrtTensor => tensor('float32', data, dims)
export const baseFeeds = (): Feeds => ({
  sample: f32(sample, [B, 4, 8, 8]),
  timestep: f32(new Float32Array([999]), []),
  encoder_hidden_states: f32(context, [B, 77, 32]),
})

export const build = (form: AttentionForm): ModelProto => decodeModel(encodeModel(buildUnet(config, form, 7).toModel({ opset: opsetFor(form) })))

export function rewritten(form: AttentionForm, options: RewriteOptions = {}) {
  const model = build(form)
  const report = rewriteForNegativeGuidance(model, options)
  if (form === 'mha-packed-kv') unpackKvForCpu(model)
  return { model, report }
}

/** Runs a model (its bytes, or a file for external data) once on the CPU; `out` names the output. */
export async function runModel(model: ModelProto | string, feeds: Feeds, out = 'out_sample'): Promise<OrtTensor> {
  const session = await createSession(typeof model === 'string' ? model : encodeModel(model))
  try {
    return (await runSession(session, feeds))[out]!
  } finally {
    await disposeSession(session)
  }
}

/** The UNet's output on the base feeds plus `extra`. */
export async function run(model: ModelProto | string, extra: Feeds = {}): Promise<Float32Array> {
  return (await runModel(model, { ...baseFeeds(), ...extra })).data as Float32Array
}

export function inputTypes(model: ModelProto): Record<string, number> {
  const types: Record<string, number> = {}
  for (const input of model.graph?.input ?? []) types[String(input.name)] = Number(input.type?.tensorType?.elemType)
  return types
}

export const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)))
  return worst
}

export const asRef = (data: Float32Array, shape: number[]): Tensor => ({ data: Float64Array.from(data), shape })
const references = new Map<AttentionForm, ReferenceUnet>()

/** The reference UNet on the weights of `form`'s graph (the packed-KV form draws its own QKV weights). */
export function referenceOut(guidance?: ReferenceGuidance, form: AttentionForm = 'decomposed'): Float64Array {
  let reference = references.get(form)
  if (!reference) {
    const weights = new Map<string, Float32Array>()
    for (const t of build(form).graph?.initializer ?? []) {
      const raw = t.rawData as Uint8Array
      if (t.dataType === DataType.FLOAT && t.name) weights.set(t.name, new Float32Array(new Uint8Array(raw).buffer))
    }
    reference = new ReferenceUnet(weights, config)
    references.set(form, reference)
  }
  return reference.forward(asRef(sample, [B, 4, 8, 8]), 999, asRef(context, [B, 77, 32]), guidance).data
}

/** Which builder forms each rule file's test covers; together, every form (rewrite.test.ts checks). */
export const formsByRuleFile = {
  'decomposed-attention': ['decomposed', 'decomposed-split-scale'],
  'ms-multi-head-attention': ['mha', 'mha-packed-kv'],
  'onnx-attention': ['onnx-attention'],
} as const satisfies Record<string, readonly AttentionForm[]>

/**
 * The rewrite tests of one rule, on each attention form it handles: NASA (α = 0 is the original, α ≠ 0
 * the reference Z+ − α·Z− per row), NASA with projection and NAG (both norms) against the reference,
 * and the report credits every cross-attention layer to this rule.
 */
export function describeRuleRewrites(rule: RewriteRule, forms: readonly AttentionForm[]): void {
  for (const form of forms) if (!attentionForms.includes(form)) throw new Error(`unknown attention form ${form}`)

  describe.each(forms)('NASA rewrite of the %s form', (form) => {
    it('rewrites every cross-attention layer, leaves self-attention alone, and the graph checks out', () => {
      const { model, report } = rewritten(form)
      expect(report.layers).toBe(layers)
      expect(report.rules.find((r) => r.rule === rule.name)?.rewritten).toBe(layers)
      expect(report.rules.reduce((n, r) => n + r.selfAttention, 0)).toBe(layers)
      expect(checkGraph(model)).toEqual([])
      const inputs = inputTypes(model)
      expect(inputs).toMatchObject({ negative_encoder_hidden_states: DataType.FLOAT, nasa_scale: DataType.FLOAT })
    })

    it('with α = 0 equals the original graph', async () => {
      const original = build(form)
      if (form === 'mha-packed-kv') unpackKvForCpu(original)
      const out = await run(rewritten(form).model, {
        negative_encoder_hidden_states: f32(negative, [B, 77, 32]),
        nasa_scale: f32(new Float32Array([0, 0]), [B]),
      })
      expect(maxDiff(out, await run(original))).toBeLessThanOrEqual(1e-5)
    })

    it('with α ≠ 0 equals the reference Z+ − α·Z− per row', async () => {
      const alpha = [0.3, 0.8]
      const out = await run(rewritten(form).model, {
        negative_encoder_hidden_states: f32(negative, [B, 77, 32]),
        nasa_scale: f32(new Float32Array(alpha), [B]),
      })
      const expected = referenceOut({ mode: 'nasa', negative: asRef(negative, [B, 77, 32]), alpha }, form)
      expect(maxDiff(out, expected)).toBeLessThanOrEqual(1e-4)
      expect(maxDiff(out, referenceOut(undefined, form))).toBeGreaterThan(1e-2) // the negative prompt really acts
    })
  })

  describe('NASA rewrite with projection (nasa-proj)', () => {
    it.each(forms)('on the %s form equals the reference Z+ − α·max(0, ⟨Z+, Z−⟩/‖Z−‖²)·Z− per token', async (form) => {
      const { model, report } = rewritten(form, { mode: 'nasa-proj' })
      expect(report.layers).toBe(layers)
      expect(report.rules.find((r) => r.rule === rule.name)?.rewritten).toBe(layers)
      expect(checkGraph(model)).toEqual([])
      expect(inputTypes(model)).toMatchObject({ negative_encoder_hidden_states: DataType.FLOAT, nasa_scale: DataType.FLOAT })
      const alpha = [0, 1.5]
      const out = await run(model, { negative_encoder_hidden_states: f32(negative, [B, 77, 32]), nasa_scale: f32(new Float32Array(alpha), [B]) })
      const expected = referenceOut({ mode: 'nasa-proj', negative: asRef(negative, [B, 77, 32]), alpha }, form)
      expect(maxDiff(out, expected)).toBeLessThanOrEqual(1e-4)
      // Row 0 has α = 0: the plain output. Row 1 differs from plain NASA at the same α.
      const per = out.length / B
      expect(maxDiff(out.slice(0, per), referenceOut(undefined, form).slice(0, per))).toBeLessThanOrEqual(1e-5)
      const plainNasa = referenceOut({ mode: 'nasa', negative: asRef(negative, [B, 77, 32]), alpha }, form)
      expect(maxDiff(out.slice(per), plainNasa.slice(per))).toBeGreaterThan(1e-3)
      expect(maxDiff(out.slice(per), referenceOut(undefined, form).slice(per))).toBeGreaterThan(1e-3)
    })
  })

  describe.each(['l2', 'l1'] as const)('NAG rewrite (%s norm)', (norm) => {
    it.each(forms)('on the %s form equals the reference formula', async (form) => {
      const { model, report } = rewritten(form, { mode: 'nag', norm })
      expect(report.layers).toBe(layers)
      expect(report.rules.find((r) => r.rule === rule.name)?.rewritten).toBe(layers)
      expect(checkGraph(model)).toEqual([])
      const g = { scale: [1, 5], tau: [2.5, 1.5], alpha: [0.25, 0.5] }
      const out = await run(model, {
        negative_encoder_hidden_states: f32(negative, [B, 77, 32]),
        nag_scale: f32(new Float32Array(g.scale), [B]),
        nag_tau: f32(new Float32Array(g.tau), [B]),
        nag_alpha: f32(new Float32Array(g.alpha), [B]),
      })
      const expected = referenceOut({ mode: 'nag', negative: asRef(negative, [B, 77, 32]), norm, ...g }, form)
      expect(maxDiff(out, expected)).toBeLessThanOrEqual(1e-4)
      // Row 0 has φ = 1: NAG is off there and the row equals the plain output.
      const per = out.length / B
      expect(maxDiff(out.slice(0, per), referenceOut(undefined, form).slice(0, per))).toBeLessThanOrEqual(1e-4)
    })
  })
}
