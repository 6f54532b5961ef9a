import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { attentionForms } from '../bundle/build/attention.ts'
import { presets } from '../bundle/build/presets.ts'
import { buildTextEncoder } from '../bundle/build/text-encoder.ts'
import { buildUnet } from '../bundle/build/unet.ts'
import { saveModel } from '../onnx/model-file.ts'
import { fromFloat16Array, toFloat16Array } from '../onnx/float16.ts'
import { DataType, decodeModel, encodeModel } from '../onnx/onnx-proto.ts'
import { tensor, type Feeds } from '../runtime/onnx-backend.ts'
import { ReferenceUnet, type Tensor } from '../testing/reference-unet.ts'
import {
  asRef,
  B,
  baseFeeds,
  build,
  config,
  context,
  f32,
  formsByRuleFile,
  inputTypes,
  layers,
  maxDiff,
  negative,
  referenceOut,
  rewritten,
  run,
  runModel,
  sample,
} from '../testing/rewrite-fixture.ts'
import { unpackKvForCpu } from '../testing/unpack-kv.ts'
import { checkGraph } from './graph-check.ts'
import { NoCrossAttentionError, rewriteForNegativeGuidance } from './rewrite.ts'
import { rewriteModelFile } from './rewrite-file.ts'

// The rewrite of each attention form is tested beside its rule (rules/*.test.ts); here: the reference
// itself, and what every rule shares (fp16, external data, failures).

describe('the independent reference', () => {
  it('matches onnxruntime on the original graph (so it can judge the rewrite)', async () => {
    expect(maxDiff(await run(build('decomposed')), referenceOut())).toBeLessThan(1e-4)
    const packed = build('mha-packed-kv')
    expect(unpackKvForCpu(packed)).toBe(layers)
    expect(maxDiff(await run(packed), referenceOut(undefined, 'mha-packed-kv'))).toBeLessThan(1e-4)
  })
})

describe('the rule tests', () => {
  it('cover every attention form the model builder writes, each once', () => {
    const covered = Object.values(formsByRuleFile).flat()
    expect([...covered].sort()).toEqual([...attentionForms].sort())
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
    const original = decodeModel(encodeModel(model))
    rewriteForNegativeGuidance(model)
    const h = (data: Float32Array, dims: number[]) => tensor('float16', toFloat16Array(data), dims)
    const feeds: Feeds = { sample: h(sample, [B, 4, 8, 8]), timestep: f32(new Float32Array([999]), []), encoder_hidden_states: h(context, [B, 77, 32]) }
    const out = async (alpha: number[]) =>
      fromFloat16Array((await runModel(model, { ...feeds, negative_encoder_hidden_states: h(negative, [B, 77, 32]), nasa_scale: f32(new Float32Array(alpha), [B]) })).data as Uint16Array)
    const plain = fromFloat16Array((await runModel(original, feeds)).data as Uint16Array)
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
    const out = (await runModel(join(dir, 'model.nasa.onnx'), { ...baseFeeds(), negative_encoder_hidden_states: f32(negative, [B, 77, 32]), nasa_scale: f32(new Float32Array([0.3, 0.8]), [B]) })).data as Float32Array
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
