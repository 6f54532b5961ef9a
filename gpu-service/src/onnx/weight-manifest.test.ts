import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeBundle } from '../bundle/build/bundle-writer.ts'
import { presets } from '../bundle/build/presets.ts'
import { buildTextEncoder } from '../bundle/build/text-encoder.ts'
import { buildUnet } from '../bundle/build/unet.ts'
import { buildVaeDecoder } from '../bundle/build/vae-decoder.ts'
import { rewriteForNegativeGuidance } from '../nasa/rewrite.ts'
import { rewriteModelFile } from '../nasa/rewrite-file.ts'
import { createSession, disposeSession, runSession, tensor, type Feeds } from '../runtime/onnx-backend.ts'
import { testBundle } from '../testing/bundles.ts'
import { GraphBuilder } from './graph-builder.ts'
import { decodeModel, encodeModel, onnx, toNumber } from './onnx-proto.ts'
import { DATA_FILE, fileSha256, MANIFEST_FILE, manifestSha256, normalsAt, readManifest, weightBytes, writeWeightData } from './weight-manifest.ts'

const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL
const builders = {
  text_encoder: (dtype: 'fp32' | 'fp16', external?: string) => buildTextEncoder(presets.tiny.textEncoder, 4, dtype, external),
  unet: (dtype: 'fp32' | 'fp16', external?: string) => buildUnet(presets.tiny.unet, 'decomposed', 5, dtype, external),
  vae_decoder: (dtype: 'fp32' | 'fp16', external?: string) => buildVaeDecoder(presets.tiny.vae, 6, dtype, external),
}

describe('structure-only graphs (external weights + manifest)', () => {
  it('draws normals by position exactly as the sequential generator does, from any start', () => {
    const g = new GraphBuilder('t', { seed: 11 })
    g.weight('a', [7]) // an odd count: the next weight starts on a pair's second half
    g.weight('b', [2, 5])
    const [a, b] = g.toModel().graph!.initializer!.map((t) => new Float32Array(t.rawData!.slice().buffer))
    const all = normalsAt(11, 0, 17)
    expect(Array.from(a!)).toEqual(Array.from(Float32Array.from(all.subarray(0, 7), (x) => 0 + x * (1 / Math.sqrt(7)))))
    expect(Array.from(normalsAt(11, 7, 10))).toEqual(Array.from(all.subarray(7)))
    expect(b!.length).toBe(10)
  })

  it.each(['fp32', 'fp16'] as const)('names every weight as external data with contiguous offsets and lengths (%s)', (dtype) => {
    for (const [name, build] of Object.entries(builders)) {
      const builder = build(dtype, DATA_FILE)
      const manifest = builder.weightManifest()
      const graph = decodeModel(encodeModel(builder.toModel())).graph!
      const external = graph.initializer!.filter((t) => t.dataLocation === EXTERNAL)
      expect(external.length, name).toBe(manifest.tensors.length)
      let offset = 0
      for (const [i, t] of external.entries()) {
        const entry = manifest.tensors[i]!
        const info = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value])) as Record<string, string>
        const count = t.dims!.map(toNumber).reduce((a, d) => a * d, 1)
        expect([t.name, t.dims!.map(toNumber), t.rawData?.length ?? 0]).toEqual([entry.name, entry.dims, 0])
        expect(info).toEqual({ location: DATA_FILE, offset: String(offset), length: String(count * (dtype === 'fp16' ? 2 : 4)) })
        expect([entry.offset, entry.length]).toEqual([offset, Number(info.length)])
        offset += entry.length
      }
      expect(manifest.bytes).toBe(offset)
      // What stays inline is small: shapes, scalars, the time frequencies, the causal mask.
      for (const t of graph.initializer!.filter((x) => x.dataLocation !== EXTERNAL)) expect(t.rawData!.length, `${name} ${t.name}`).toBeLessThan(24_000)
    }
  })

  it.each(['fp32', 'fp16'] as const)('the manifest describes the same bytes the inline builder stores (%s)', (dtype) => {
    for (const [name, build] of Object.entries(builders)) {
      const manifest = build(dtype, DATA_FILE).weightManifest()
      const inline = new Map(build(dtype).toModel().graph!.initializer!.map((t) => [t.name, t.rawData!]))
      for (const entry of manifest.tensors) expect(Buffer.from(weightBytes(manifest, entry)).equals(Buffer.from(inline.get(entry.name)!)), `${name} ${entry.name}`).toBe(true)
    }
  })

  it('a structure-only bundle with its weights written makes the same images as the inline bundle (text encoder → UNet, plain and NASA → VAE)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'snoopi-structure-')), 'tiny')
    writeBundle({ preset: presets.tiny, out: dir, weights: 'manifest' })
    for (const folder of ['text_encoder', 'unet', 'vae_decoder']) {
      expect(existsSync(join(dir, folder, DATA_FILE))).toBe(false)
      const manifestPath = join(dir, folder, MANIFEST_FILE)
      const { sha256, skipped } = writeWeightData(manifestPath)
      expect(skipped).toBe(false)
      expect(sha256).toBe(fileSha256(join(dir, folder, DATA_FILE)))
      expect(sha256).toBe(manifestSha256(readManifest(manifestPath)))
      expect(statSync(join(dir, folder, DATA_FILE)).size).toBe(readManifest(manifestPath).bytes)
      expect(writeWeightData(manifestPath).skipped).toBe(true)
      expect(statSync(join(dir, folder, 'model.onnx')).size).toBeLessThan(400_000)
    }
    expect((JSON.parse(readFileSync(join(dir, 'snoopi.json'), 'utf8')) as { weights?: string }).weights).toBe('manifest')
    rewriteModelFile(join(dir, 'unet/model.onnx'), join(dir, 'unet/model.nasa.onnx'), { mode: 'nasa' })
    const inline = testBundle('tiny')
    const inlineNasa = decodeModel(readFileSync(join(inline, 'unet/model.onnx')))
    rewriteForNegativeGuidance(inlineNasa, { mode: 'nasa' })

    const images = async (files: { text: string; unet: string | Uint8Array; vae: string }, guided: boolean) => {
      const [text, unet, vae] = await Promise.all([files.text, files.unet, files.vae].map((f) => createSession(f, { threads: 1, log: () => {} })))
      const ids = (offset: number) => tensor('int32', Int32Array.from({ length: 2 * 77 }, (_, i) => (i % 77 === 0 ? 49406 : i % 77 < 5 ? 320 + offset + i : 49407)), [2, 77])
      const hidden = async (offset: number) => (await runSession(text!, { input_ids: ids(offset) })).last_hidden_state!
      const feeds: Feeds = {
        sample: tensor('float32', Float32Array.from({ length: 2 * 4 * 64 }, (_, i) => Math.sin(i * 0.7)), [2, 4, 8, 8]),
        timestep: tensor('float32', new Float32Array([999]), []),
        encoder_hidden_states: await hidden(0),
      }
      if (guided) Object.assign(feeds, { negative_encoder_hidden_states: await hidden(9), nasa_scale: tensor('float32', new Float32Array([0.5, 1]), [2]) })
      const latent = (await runSession(unet!, feeds)).out_sample!
      const pixels = (await runSession(vae!, { latent_sample: latent })).sample!.data as Float32Array
      await Promise.all([text!, unet!, vae!].map(disposeSession))
      return Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength)
    }
    const structured = (unet: string) => ({ text: join(dir, 'text_encoder/model.onnx'), unet: join(dir, unet), vae: join(dir, 'vae_decoder/model.onnx') })
    const fromInline = (unet: string | Uint8Array) => ({ text: join(inline, 'text_encoder/model.onnx'), unet, vae: join(inline, 'vae_decoder/model.onnx') })
    expect((await images(structured('unet/model.onnx'), false)).equals(await images(fromInline(join(inline, 'unet/model.onnx')), false))).toBe(true)
    expect((await images(structured('unet/model.nasa.onnx'), true)).equals(await images(fromInline(encodeModel(inlineNasa)), true))).toBe(true)
  })
})
