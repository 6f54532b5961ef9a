import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testBundle } from '../testing/bundles.ts'
import { PipelineInputError, validateRequest } from './generate-request.ts'
import { OneStepPipeline } from './one-step-pipeline.ts'

let bundleDir: string
let pipeline: OneStepPipeline

beforeAll(async () => {
  bundleDir = testBundle('tiny')
  pipeline = await OneStepPipeline.load(bundleDir, { threads: 1 })
})
afterAll(() => pipeline.dispose())

const generate = (prompt: string, seed: number | bigint, extra: object = {}) => pipeline.generate({ prompts: [prompt], seeds: [seed], ...extra })

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
      const fresh = (await other.generate({ prompts: ['a red circle'], seeds: [42] })).images[0]!.data
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
    const request = (p: string[], s: bigint[]) => validateRequest(pipeline.bundle, { prompts: p, seeds: s })
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

  it.each([
    ['an empty prompt', { prompts: ['  '], seeds: [1] }, /prompt 0 is empty/],
    ['an over-long prompt', { prompts: ['x'.repeat(2001)], seeds: [1] }, /2001 characters; the limit is 2000/],
    ['a size not a multiple of 8', { prompts: ['a'], seeds: [1], size: { width: 60, height: 64 } }, /multiples of 8/],
    ['a size the bundle does not offer', { prompts: ['a'], seeds: [1], size: { width: 512, height: 512 } }, /not offered by this model; allowed: 64x64, 32x32, 128x128/],
    ['a negative seed', { prompts: ['a'], seeds: [-1] }, /seed must be an integer in \[0, 2\^64-1\]/],
    ['a seed above 2^64-1', { prompts: ['a'], seeds: [2n ** 64n] }, /seed must be an integer/],
    ['a missing seed', { prompts: ['a', 'b'], seeds: [1] }, /one seed per prompt/],
    ['too many images', { prompts: Array(17).fill('a'), seeds: Array(17).fill(1) }, /at most 16 images/],
    ['an unknown format', { prompts: ['a'], seeds: [1], outputFormat: 'gif' }, /output format must be one of png, webp, jpeg/],
  ])('rejects %s with a clear PipelineInputError', async (_name, request, message) => {
    const error = await pipeline.generate(request as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PipelineInputError)
    expect((error as Error).message).toMatch(message)
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
      const request = validateRequest(pipeline.bundle, { prompts: ['a cat'], seeds: [9] })
      const [eps, v] = [await pipeline.decode(request), await vpred.decode(request)]
      expect(eps.pixels).not.toEqual(v.pixels)
    } finally {
      await vpred.dispose()
    }
  })
})
