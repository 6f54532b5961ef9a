import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { attentionForms, opsetFor, type AttentionForm } from '../model-builder/attention.ts'
import { presets } from '../model-builder/presets.ts'
import { buildTextEncoder } from '../model-builder/text-encoder.ts'
import { buildUnet, crossAttentionLayerCount } from '../model-builder/unet.ts'
import { saveModel } from '../onnx/model-file.ts'
import { fromFloat16Array, toFloat16Array } from '../onnx/float16.ts'
import { DataType, decodeModel, encodeModel, type ModelProto } from '../onnx/onnx-proto.ts'
import { ReferenceUnet, type ReferenceGuidance, type Tensor } from '../testing/reference-unet.ts'
import { unpackKvForCpu } from '../testing/unpack-kv.ts'
import { checkGraph } from './graph-check.ts'
import { NoCrossAttentionError, rewriteForNegativeGuidance, type RewriteOptions } from './rewrite.ts'
import { rewriteModelFile } from './rewrite-file.ts'

const config = presets.tiny.unet
const layers = crossAttentionLayerCount(config)
const B = 2
const seeded = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.8)
const sample = seeded(B * 4 * 8 * 8, 1)
const context = seeded(B * 77 * 32, 2)
const negative = seeded(B * 77 * 32, 3)
const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims)
const baseFeeds = () => ({
  sample: f32(sample, [B, 4, 8, 8]),
  timestep: f32(new Float32Array([999]), []),
  encoder_hidden_states: f32(context, [B, 77, 32]),
})

const build = (form: AttentionForm): ModelProto => decodeModel(encodeModel(buildUnet(config, form, 7).toModel({ opset: opsetFor(form) })))

function rewritten(form: AttentionForm, options: RewriteOptions = {}) {
  const model = build(form)
  const report = rewriteForNegativeGuidance(model, options)
  if (form === 'mha-packed-kv') unpackKvForCpu(model)
  return { model, report }
}

async function run(model: ModelProto, extra: Record<string, ort.Tensor> = {}): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model))
  return (await session.run({ ...baseFeeds(), ...extra })).out_sample!.data as Float32Array
}

function inputTypes(model: ModelProto): Record<string, number> {
  const types: Record<string, number> = {}
  for (const input of model.graph?.input ?? []) types[String(input.name)] = Number(input.type?.tensorType?.elemType)
  return types
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)))
  return worst
}

const asRef = (data: Float32Array, shape: number[]): Tensor => ({ data: Float64Array.from(data), shape })
const references = new Map<AttentionForm, ReferenceUnet>()

/** The reference UNet on the weights of `form`'s graph (the packed-KV form draws its own QKV weights). */
function referenceOut(guidance?: ReferenceGuidance, form: AttentionForm = 'decomposed'): Float64Array {
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

describe('the independent reference', () => {
  it('matches onnxruntime on the original graph (so it can judge the rewrite)', async () => {
    expect(maxDiff(await run(build('decomposed')), referenceOut())).toBeLessThan(1e-4)
    const packed = build('mha-packed-kv')
    expect(unpackKvForCpu(packed)).toBe(layers)
    expect(maxDiff(await run(packed), referenceOut(undefined, 'mha-packed-kv'))).toBeLessThan(1e-4)
  })
})

describe.each(attentionForms)('NASA rewrite of the %s form', (form) => {
  it('rewrites every cross-attention layer, leaves self-attention alone, and the graph checks out', () => {
    const { model, report } = rewritten(form)
    expect(report.layers).toBe(layers)
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
  it.each(attentionForms)('on the %s form equals the reference Z+ − α·max(0, ⟨Z+, Z−⟩/‖Z−‖²)·Z− per token', async (form) => {
    const { model, report } = rewritten(form, { mode: 'nasa-proj' })
    expect(report.layers).toBe(layers)
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
  it.each(attentionForms)('on the %s form equals the reference formula', async (form) => {
    const { model, report } = rewritten(form, { mode: 'nag', norm })
    expect(report.layers).toBe(layers)
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

describe('rewrite inputs and failures', () => {
  it('handles fp16 graphs: the negative input is fp16 and nasa_scale is cast to fp16', () => {
    const model = decodeModel(encodeModel(buildUnet(config, 'decomposed', 7, 'fp16').toModel()))
    const report = rewriteForNegativeGuidance(model)
    expect(report.layers).toBe(layers)
    expect(checkGraph(model)).toEqual([])
    const inputs = inputTypes(model)
    expect(inputs).toMatchObject({ negative_encoder_hidden_states: DataType.FLOAT16, nasa_scale: DataType.FLOAT })
    const cast = (model.graph?.node ?? []).find((n) => n.opType === 'Cast' && n.input?.[0] === 'nasa_scale')
    expect(cast?.attribute?.[0]?.i).toBe(DataType.FLOAT16)
  })

  it('runs the rewritten fp16 graph: α = 0 is the original, α ≠ 0 follows the reference within fp16 precision', async () => {
    const model = decodeModel(encodeModel(buildUnet(config, 'decomposed', 7, 'fp16').toModel()))
    const original = await ort.InferenceSession.create(encodeModel(model))
    rewriteForNegativeGuidance(model)
    const guided = await ort.InferenceSession.create(encodeModel(model))
    const h = (data: Float32Array, dims: number[]) => new ort.Tensor('float16', toFloat16Array(data), dims)
    const feeds = { sample: h(sample, [B, 4, 8, 8]), timestep: f32(new Float32Array([999]), []), encoder_hidden_states: h(context, [B, 77, 32]) }
    const out = async (alpha: number[]) =>
      fromFloat16Array((await guided.run({ ...feeds, negative_encoder_hidden_states: h(negative, [B, 77, 32]), nasa_scale: f32(new Float32Array(alpha), [B]) })).out_sample!.data as Uint16Array)
    const plain = fromFloat16Array((await original.run(feeds)).out_sample!.data as Uint16Array)
    expect(maxDiff(await out([0, 0]), plain)).toBe(0)
    // The reference runs in float64 on the fp16 weights and fp16-rounded inputs.
    const weights = new Map<string, Float32Array>()
    for (const t of model.graph?.initializer ?? []) {
      if (t.dataType === DataType.FLOAT16 && t.name) weights.set(t.name, fromFloat16Array(new Uint16Array(new Uint8Array(t.rawData as Uint8Array).buffer)))
    }
    const round = (data: Float32Array, shape: number[]): Tensor => ({ data: Float64Array.from(fromFloat16Array(toFloat16Array(data))), shape })
    const expected = new ReferenceUnet(weights, config).forward(round(sample, [B, 4, 8, 8]), 999, round(context, [B, 77, 32]), {
      mode: 'nasa',
      negative: round(negative, [B, 77, 32]),
      alpha: [0.3, 0.8],
    }).data
    const withoutNasa = new ReferenceUnet(weights, config).forward(round(sample, [B, 4, 8, 8]), 999, round(context, [B, 77, 32])).data
    const error = maxDiff(await out([0.3, 0.8]), expected)
    const effect = maxDiff(expected, withoutNasa)
    // fp16 end to end drifts by a few percent; the NASA effect itself is several times larger.
    expect(error).toBeLessThan(0.2 * effect)
  })

  it('rewrites a model with external data and keeps its weights external', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snoopi-nasa-ext-'))
    saveModel(buildUnet(config, 'decomposed', 7).toModel(), join(dir, 'in', 'model.onnx'), { externalData: true })
    const report = rewriteModelFile(join(dir, 'in', 'model.onnx'), join(dir, 'model.nasa.onnx'))
    expect(report.layers).toBe(layers)
    const session = await ort.InferenceSession.create(join(dir, 'model.nasa.onnx'))
    const out = (await session.run({ ...baseFeeds(), negative_encoder_hidden_states: f32(negative, [B, 77, 32]), nasa_scale: f32(new Float32Array([0.3, 0.8]), [B]) })).out_sample!.data as Float32Array
    expect(maxDiff(out, referenceOut({ mode: 'nasa', negative: asRef(negative, [B, 77, 32]), alpha: [0.3, 0.8] }))).toBeLessThanOrEqual(1e-4)
  })

  it('says which input is missing when the context input name is wrong', () => {
    expect(() => rewriteForNegativeGuidance(build('decomposed'), { contextInput: 'text_embeds' })).toThrow(
      /no input "text_embeds" \(inputs: sample, timestep, encoder_hidden_states\)/,
    )
  })

  it('explains the closest partial match when nothing is cross-attention', () => {
    const textEncoder = decodeModel(encodeModel(buildTextEncoder(presets.tiny.textEncoder, 1).toModel()))
    expect(() => rewriteForNegativeGuidance(textEncoder, { contextInput: 'input_ids' })).toThrow(NoCrossAttentionError)
    expect(() => rewriteForNegativeGuidance(textEncoder, { contextInput: 'input_ids' })).toThrow(/closest partial match: .*queries do not come from the latent path/)
  })

  it('refuses to rewrite a graph twice', () => {
    const { model } = rewritten('decomposed')
    expect(() => rewriteForNegativeGuidance(model)).toThrow(/already has an input "negative_encoder_hidden_states"/)
  })
})
