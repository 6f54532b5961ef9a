import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OneStepPipeline } from '../../pipeline/one-step-pipeline.ts'
import { DEFAULT_BUNDLE_DIR } from './default-bundle.ts'
import { loadBundle } from './model-bundle.ts'
import { compareWithReference, readReferenceCases } from '../build/trained-bundle-reference.ts'

/**
 * The committed default model (trained by `npm run train:default`): it loads as a bundle, is small
 * enough to commit, and the TypeScript pipeline — NASA graph rewrite included — reproduces the images
 * PyTorch computed at export for the same prompts and seeds.
 */
let pipeline: OneStepPipeline
const logs: string[] = []

beforeAll(async () => {
  pipeline = await OneStepPipeline.load(DEFAULT_BUNDLE_DIR, { threads: 1, preloadGuidance: ['nasa', 'nasa-proj'], onProgress: (line) => logs.push(line) })
})
afterAll(() => pipeline.dispose())

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, entry) => sum + (entry.isDirectory() ? folderBytes(join(dir, entry.name)) : statSync(join(dir, entry.name)).size),
    0,
  )
}

describe('the trained default bundle', () => {
  it('is a 32×32 one-step bundle with tuned NASA α values (projection by default), small enough to commit', () => {
    const bundle = loadBundle(DEFAULT_BUNDLE_DIR)
    expect(bundle.sizes).toEqual([{ width: 32, height: 32 }])
    expect(bundle.vaeScaleFactor).toBe(4)
    expect(bundle.oneStepTimestep).toBe(999)
    expect(bundle.nasaAlpha).toBeGreaterThan(0)
    expect(bundle.nasaProjectionAlpha).toBeGreaterThan(0)
    expect(bundle.version).toMatch(/-nasa-proj$/) // the default form decides the images, so it is in the cache key
    expect(folderBytes(DEFAULT_BUNDLE_DIR)).toBeLessThan(20e6)
  })

  it('has its three cross-attention layers rewritten for both NASA forms', () => {
    expect(logs.join('\n')).toMatch(/NASA rewrite: 3 cross-attention layers/)
    expect(logs.join('\n')).toMatch(/NASA-PROJ rewrite: 3 cross-attention layers/)
  })

  const references = readReferenceCases(DEFAULT_BUNDLE_DIR)

  it('carries reference images that are pictures, not flat fields, and one with a negative prompt', () => {
    expect(references.length).toBeGreaterThanOrEqual(4)
    for (const reference of references) {
      const pixels = Buffer.from(reference.rgb_base64, 'base64')
      expect(new Set(pixels).size, reference.prompt).toBeGreaterThan(20)
    }
    const guided = references.find((r) => r.negative_prompt)
    const plain = references.find((r) => !r.negative_prompt && r.prompt === guided?.prompt && r.seed === guided.seed)
    expect(guided && plain).toBeTruthy()
    expect(guided!.rgb_base64).not.toBe(plain!.rgb_base64)
    expect(guided!.projection).toBe(true) // the bundle's default form
  })

  it.each(references.map((r) => [`${r.prompt}${r.negative_prompt ? ` − ${r.negative_prompt}` : ''} (seed ${r.seed})`, r] as const))(
    'reproduces PyTorch: %s',
    async (_, reference) => {
      const { maxDiff, meanDiff } = await compareWithReference(pipeline, reference)
      expect(maxDiff).toBeLessThanOrEqual(2)
      expect(meanDiff).toBeLessThan(0.05)
    },
  )
})
