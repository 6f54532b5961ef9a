import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { presets } from '../bundle/build/presets.ts'
import { buildUnet, crossAttentionLayerCount } from '../bundle/build/unet.ts'
import { decodeModel, encodeModel, onnx, type TensorProto } from '../onnx/onnx-proto.ts'
import { DATA_FILE, MANIFEST_FILE, writeWeightData } from '../onnx/weight-manifest.ts'
import { createSession, disposeSession, runSession, tensor } from '../runtime/onnx-backend.ts'
import { checkGraph } from './graph-check.ts'
import type { GuidanceMode } from './rewrite-context.ts'
import { rewriteModelFile } from './rewrite-file.ts'

/** The NASA/NAG rewrite of a structure-only UNet (weights named as external data, not yet written), as the device carry makes it. */
function structureOnlyUnet(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'snoopi-nasa-external-')), 'unet')
  mkdirSync(dir, { recursive: true })
  const builder = buildUnet(presets.tiny.unet, 'decomposed', 9, 'fp32', DATA_FILE)
  writeFileSync(join(dir, 'model.onnx'), encodeModel(builder.toModel()))
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(builder.weightManifest()))
  return dir
}

const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL
const externalRefs = (tensors: TensorProto[]) =>
  new Map(tensors.filter((t) => t.dataLocation === EXTERNAL).map((t) => [t.name, JSON.stringify(t.externalData!.map((e) => [e.key, e.value]))]))

const newInputs: Record<GuidanceMode, string[]> = {
  nasa: ['nasa_scale', 'negative_encoder_hidden_states'],
  'nasa-proj': ['nasa_scale', 'negative_encoder_hidden_states'],
  nag: ['nag_alpha', 'nag_scale', 'nag_tau', 'negative_encoder_hidden_states'],
}

describe('NASA/NAG rewrite of a structure-only (external-data) UNet', () => {
  it.each(['nasa', 'nasa-proj', 'nag'] as const)('%s: adds its inputs, keeps every external reference as it was, adds none', (mode) => {
    const dir = structureOnlyUnet()
    const before = decodeModel(readFileSync(join(dir, 'model.onnx'))).graph!
    const report = rewriteModelFile(join(dir, 'model.onnx'), join(dir, `model.${mode}.onnx`), { mode })
    expect(report.layers).toBe(crossAttentionLayerCount(presets.tiny.unet))
    const after = decodeModel(readFileSync(join(dir, `model.${mode}.onnx`)))
    const names = (after.graph!.input ?? []).map((i) => i.name!)
    expect(names.slice(0, 3)).toEqual(['sample', 'timestep', 'encoder_hidden_states'])
    expect(names.slice(3).sort()).toEqual(newInputs[mode])
    expect(externalRefs(after.graph!.initializer!)).toEqual(externalRefs(before.initializer!))
    // The rewrite's own constants are small and inline.
    for (const t of after.graph!.initializer!.filter((x) => x.dataLocation !== EXTERNAL)) expect(t.rawData!.length).toBeLessThan(24_000)
    expect(checkGraph(after)).toEqual([])
    expect(statSync(join(dir, `model.${mode}.onnx`)).size).toBeLessThan(400_000)
  })

  it('runs once the weights are written: NASA with α = 0 equals the plain UNet', async () => {
    const dir = structureOnlyUnet()
    rewriteModelFile(join(dir, 'model.onnx'), join(dir, 'model.nasa.onnx'), { mode: 'nasa' })
    writeWeightData(join(dir, MANIFEST_FILE))
    const B = 2
    const f32 = (n: number, seed: number, dims: number[]) => tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.37)), dims)
    const feeds = { sample: f32(B * 4 * 64, 1, [B, 4, 8, 8]), timestep: tensor('float32', new Float32Array([999]), []), encoder_hidden_states: f32(B * 77 * 32, 2, [B, 77, 32]) }
    const plain = await createSession(join(dir, 'model.onnx'))
    const nasa = await createSession(join(dir, 'model.nasa.onnx'))
    const a = (await runSession(plain, feeds)).out_sample!.data as Float32Array
    const extra = { negative_encoder_hidden_states: f32(B * 77 * 32, 3, [B, 77, 32]), nasa_scale: tensor('float32', new Float32Array([0, 0.5]), [B]) }
    const b = (await runSession(nasa, { ...feeds, ...extra })).out_sample!.data as Float32Array
    const row = a.length / B
    let worst = 0
    for (let i = 0; i < row; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
    expect(worst).toBeLessThan(1e-5)
    let moved = 0
    for (let i = row; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i]! - b[i]!))
    expect(moved).toBeGreaterThan(1e-4)
    await Promise.all([disposeSession(plain), disposeSession(nasa)])
  })
})
