import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { buildVaeDecoder } from '../model-builder/vae-decoder.ts'
import { presets } from '../model-builder/presets.ts'
import { encodeModel } from './onnx-proto.ts'
import { saveModel } from './model-file.ts'

describe('saveModel', () => {
  it('writes external data that onnxruntime loads to the same result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snoopi-external-'))
    const inline = await ort.InferenceSession.create(encodeModel(buildVaeDecoder(presets.tiny.vae, 5).toModel()))
    const path = join(dir, 'vae_decoder', 'model.onnx')
    saveModel(buildVaeDecoder(presets.tiny.vae, 5).toModel(), path, { externalData: true })
    expect(existsSync(`${path}_data`)).toBe(true)
    expect(statSync(path).size).toBeLessThan(statSync(`${path}_data`).size)
    const external = await ort.InferenceSession.create(path)
    const feeds = { latent_sample: new ort.Tensor('float32', Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.cos(i)), [1, 4, 8, 8]) }
    const a = (await inline.run(feeds)).sample!.data as Float32Array
    const b = (await external.run(feeds)).sample!.data as Float32Array
    expect(Array.from(b)).toEqual(Array.from(a))
  })
})
