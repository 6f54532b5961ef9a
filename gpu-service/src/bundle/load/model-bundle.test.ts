import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { testBundle } from '../../testing/bundles.ts'
import { BundleError, loadBundle } from './model-bundle.ts'

let source: string
beforeAll(() => {
  source = testBundle('tiny')
})

/** A fresh copy of the tiny bundle to break. */
function copy(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'snoopi-broken-')), 'bundle')
  cpSync(source, dir, { recursive: true })
  return dir
}

function editJson(path: string, edit: (value: Record<string, unknown>) => unknown) {
  writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>)))
}

function errorOf(dir: string): BundleError {
  try {
    loadBundle(dir)
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError)
    return error as BundleError
  }
  throw new Error('loadBundle did not throw')
}

describe('loadBundle', () => {
  it('reads the generated tiny bundle', () => {
    const bundle = loadBundle(source)
    expect(bundle.scheduler.prediction_type).toBe('epsilon')
    expect(bundle.scheduler.num_train_timesteps).toBe(1000)
    expect(bundle.oneStepTimestep).toBe(999)
    expect(bundle.nasaAlpha).toBe(0.04)
    expect(bundle.backbone).toBe('sd15')
    expect(bundle.sizes[0]).toEqual({ width: 64, height: 64 })
    expect(bundle.vaeScaleFactor).toBe(8)
    expect(bundle.vaeScalingFactor).toBe(0.18215)
    expect(bundle.files.unet).toBe(join(source, 'unet', 'model.onnx'))
  })

  it.each([
    ['unet/model.onnx'],
    ['text_encoder/model.onnx'],
    ['vae_decoder/model.onnx'],
    ['tokenizer/vocab.json'],
    ['tokenizer/merges.txt'],
    ['model_index.json'],
    ['scheduler/scheduler_config.json'],
  ])('names a missing %s', (file) => {
    const dir = copy()
    rmSync(join(dir, file))
    const error = errorOf(dir)
    expect(error.file).toBe(file)
    expect(error.message).toBe(`model bundle: ${file}: missing`)
  })

  it('names a file that is not JSON', () => {
    const dir = copy()
    writeFileSync(join(dir, 'snoopi.json'), '{ nope')
    expect(errorOf(dir).message).toMatch(/^model bundle: snoopi\.json: not valid JSON/)
  })

  it('names an unknown prediction type', () => {
    const dir = copy()
    editJson(join(dir, 'scheduler/scheduler_config.json'), (c) => ({ ...c, prediction_type: 'flow' }))
    expect(errorOf(dir).message).toMatch(/^model bundle: scheduler\/scheduler_config\.json: .*prediction_type/)
  })

  it('rejects sizes that are not multiples of the VAE factor', () => {
    const dir = copy()
    editJson(join(dir, 'snoopi.json'), (c) => ({ ...c, sizes: ['100x100'] }))
    expect(errorOf(dir).message).toBe('model bundle: snoopi.json: size 100x100 is not a positive multiple of 8')
  })

  it('works without snoopi.json, with the paper\'s α for the backbone', () => {
    const dir = copy()
    rmSync(join(dir, 'snoopi.json'))
    editJson(join(dir, 'unet/config.json'), (c) => ({ ...c, cross_attention_dim: 1024 }))
    const bundle = loadBundle(dir)
    expect(bundle.backbone).toBe('sd21')
    expect(bundle.nasaAlpha).toBe(0.3)
    expect(bundle.sizes).toEqual([{ width: 64, height: 64 }]) // sample_size 8 × 8
    expect(bundle.oneStepTimestep).toBe(999)
  })

  it('says when the folder does not exist', () => {
    expect(() => loadBundle('/nonexistent/bundle')).toThrow(/model bundle: \/nonexistent\/bundle: not a directory/)
  })
})
