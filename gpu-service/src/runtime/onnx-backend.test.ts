import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { presets } from '../bundle/build/presets.ts'
import { buildVaeDecoder } from '../bundle/build/vae-decoder.ts'
import { encodeModel } from '../onnx/onnx-proto.ts'
import { createSession, disposeSession, executionProviders, runSession, tensor } from './onnx-backend.ts'

const serviceRoot = fileURLToPath(new URL('../../', import.meta.url))

function typeScriptFiles(dir: string): string[] {
  return readdirSync(join(serviceRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : typeScriptFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

describe('the ONNX Runtime backend', () => {
  it('is the one module that imports onnxruntime-node', () => {
    const importers = [...typeScriptFiles('src'), ...typeScriptFiles('bench')]
      .filter((file) => /\bfrom\s*'onnxruntime-node'|\bimport\(\s*'onnxruntime-node'\s*\)/.test(readFileSync(join(serviceRoot, file), 'utf8')))
    expect(importers).toEqual(['src/runtime/onnx-backend.ts'])
  })

  it('runs a model from bytes on the CPU and hands back its tensors', async () => {
    // The tiny preset's VAE decoder, as bytes: a session opens, reports its inputs, runs and closes.
    const session = await createSession(encodeModel(buildVaeDecoder(presets.tiny.vae, 5).toModel()), { threads: 1 })
    try {
      expect(session.provider).toBe(executionProviders.cpu[0])
      const input = session.inputs.find((i) => i.name === 'latent_sample')
      expect(input?.type).toBe('float32')
      const out = await runSession(session, { latent_sample: tensor('float32', new Float32Array(4 * 8 * 8), [1, 4, 8, 8]) })
      const sample = Object.values(out)[0]
      expect(sample?.type).toBe('float32')
      expect(sample?.dims.slice(0, 2)).toEqual([1, 3])
    } finally {
      await disposeSession(session)
    }
  })
})
