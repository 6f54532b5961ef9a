import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchOf } from '../generation/batch.ts'
import { validateGeneration, type GenerationInput } from '../generation/generation-request.ts'
import { testBundle } from '../testing/bundles.ts'
import { OneStepPipeline } from './one-step-pipeline.ts'

let bundleDir: string
let pipeline: OneStepPipeline

beforeAll(async () => {
  bundleDir = testBundle('tiny')
  pipeline = await OneStepPipeline.load(bundleDir, { threads: 1 })
})
afterAll(() => pipeline.dispose())

/** One validated request of one image, run as a batch of its own. */
const generate = (prompt: string, seed: number | bigint, extra: Partial<GenerationInput> = {}, on: OneStepPipeline = pipeline) =>
  on.run(batchOf([validateGeneration(on.bundle, { prompt, seed, ...extra })]))

describe('OneStepPipeline on the tiny bundle', () => {
  it('writes a valid PNG of the default size', async () => {
    const { images, timings } = await generate('a red circle', 1)
    const image = images[0]!
    expect(image.contentType).toBe('image/png')
    const meta = await sharp(image.data).metadata()
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 64, 64, 3])
    for (const stage of ['tokenize', 'textEncoder', 'unet', 'vae', 'encode', 'total'] as const) expect(timings[stage]).toBeGreaterThanOrEqual(0)
  })

  it('is byte-identical for the same request, also across separately loaded pipelines', async () => {
    const first = (await generate('a red circle', 42)).images[0]!.data
    const again = (await generate('a red circle', 42)).images[0]!.data
    const other = await OneStepPipeline.load(bundleDir, { threads: 2 })
    try {
      const fresh = (await generate('a red circle', 42, {}, other)).images[0]!.data
      expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true)
      expect(Buffer.from(fresh).equals(Buffer.from(first))).toBe(true)
    } finally {
      await other.dispose()
    }
  })

  it('gives another image for another seed or another prompt', async () => {
    const base = Buffer.from((await generate('a red circle', 42)).images[0]!.data)
    expect(base.equals(Buffer.from((await generate('a red circle', 43)).images[0]!.data))).toBe(false)
    expect(base.equals(Buffer.from((await generate('a blue square', 42)).images[0]!.data))).toBe(false)
  })

  it('makes a batch of 4 in one call equal to 4 single calls (before 8-bit rounding)', async () => {
    const prompts = ['a red circle', 'a blue square', 'a red circle', 'green triangle on white']
    const seeds = [5n, 6n, 7n, 2n ** 64n - 1n]
    const request = (p: string[], s: bigint[]) => batchOf(p.map((prompt, i) => validateGeneration(pipeline.bundle, { prompt, seed: s[i]! })))
    const batched = await pipeline.decode(request(prompts, seeds))
    const per = batched.pixels.length / 4
    let worst = 0
    for (let i = 0; i < 4; i++) {
      const single = await pipeline.decode(request([prompts[i]!], [seeds[i]!]))
      for (let j = 0; j < per; j++) worst = Math.max(worst, Math.abs(single.pixels[j]! - batched.pixels[i * per + j]!))
    }
    expect(worst).toBeLessThan(1e-4)
    // And the rows really differ from each other (a broken batch could repeat row 0).
    expect(batched.pixels.slice(0, per)).not.toEqual(batched.pixels.slice(per, 2 * per))
  })

  it('reuses cached text features for a repeated prompt', async () => {
    const hits = pipeline.embeddings.hits
    await generate('a cached prompt', 1)
    await generate('a cached prompt', 2)
    expect(pipeline.embeddings.hits).toBeGreaterThan(hits)
  })

  it('reports prompt tokens past CLIP\'s 75', async () => {
    const long = Array.from({ length: 80 }, () => 'cat').join(' ')
    expect((await generate(long, 1)).images[0]!.droppedTokens).toBe(5)
    expect((await generate('a cat', 1)).images[0]!.droppedTokens).toBe(0)
  })

  it('encodes WebP and JPEG too', async () => {
    for (const [format, type] of [['webp', 'image/webp'], ['jpeg', 'image/jpeg']] as const) {
      const image = (await generate('a cat', 3, { outputFormat: format })).images[0]!
      expect(image.contentType).toBe(type)
      expect((await sharp(image.data).metadata()).format).toBe(format)
    }
  })

  it('generates other offered sizes', async () => {
    const image = (await generate('a cat', 3, { size: { width: 128, height: 128 } })).images[0]!
    expect([image.width, image.height]).toEqual([128, 128])
    expect((await sharp(image.data).metadata()).width).toBe(128)
  })

  it('follows the scheduler\'s prediction type', async () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'snoopi-vpred-')), 'bundle')
    cpSync(bundleDir, copy, { recursive: true })
    const configPath = join(copy, 'scheduler', 'scheduler_config.json')
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>
    writeFileSync(configPath, JSON.stringify({ ...config, prediction_type: 'v_prediction' }))
    const vpred = await OneStepPipeline.load(copy, { threads: 1 })
    try {
      const request = batchOf([validateGeneration(pipeline.bundle, { prompt: 'a cat', seed: 9 })])
      const [eps, v] = [await pipeline.decode(request), await vpred.decode(request)]
      expect(eps.pixels).not.toEqual(v.pixels)
    } finally {
      await vpred.dispose()
    }
  })
})
