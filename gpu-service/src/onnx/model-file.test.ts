import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildVaeDecoder } from '../bundle/build/vae-decoder.ts'
import { presets } from '../bundle/build/presets.ts'
import { createSession, runSession, tensor } from '../runtime/onnx-backend.ts'
import { encodeModel } from './onnx-proto.ts'
import { saveModel } from './model-file.ts'

describe('saveModel', () => {
  it('writes external data that onnxruntime loads to the same result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snoopi-external-'))
    const inline = await createSession(encodeModel(buildVaeDecoder(presets.tiny.vae, 5).toModel()), { log: () => {} })
    const path = join(dir, 'vae_decoder', 'model.onnx')
    saveModel(buildVaeDecoder(presets.tiny.vae, 5).toModel(), path, { externalData: true })
    expect(existsSync(`${path}_data`)).toBe(true)
    expect(statSync(path).size).toBeLessThan(statSync(`${path}_data`).size)
    const external = await createSession(path, { log: () => {} })
    const feeds = { latent_sample: tensor('float32', Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.cos(i)), [1, 4, 8, 8]) }
    const a = (await runSession(inline, feeds)).sample!.data as Float32Array
    const b = (await runSession(external, feeds)).sample!.data as Float32Array
    expect(Array.from(b)).toEqual(Array.from(a))
  })
})
