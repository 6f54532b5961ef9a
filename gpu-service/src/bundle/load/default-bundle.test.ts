import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_BUNDLE_DIR, defaultBundleDir, ensureGeneratedBundle } from './default-bundle.ts'
import { loadBundle } from './model-bundle.ts'

describe('defaultBundleDir', () => {
  it('is the committed trained bundle and says so', () => {
    const lines: string[] = []
    expect(defaultBundleDir((line) => lines.push(line))).toBe(DEFAULT_BUNDLE_DIR)
    expect(lines[0]).toMatch(/serving the built-in default model .*set MODEL_DIR/)
    expect(loadBundle(DEFAULT_BUNDLE_DIR).displayName).toMatch(/PG-SB/)
  })
})

describe('ensureGeneratedBundle', () => {
  it('generates the bundle once, says so, and reuses it afterwards', () => {
    const cache = mkdtempSync(join(tmpdir(), 'snoopi-cache-'))
    const lines: string[] = []
    const dir = ensureGeneratedBundle(cache, 'tiny-test', 'tiny', (line) => lines.push(line), 'a hint')
    expect(dir).toBe(join(cache, 'tiny-test'))
    expect(lines[0]).toMatch(/generating the tiny-test bundle \(tiny preset, random weights\) .*; a hint/)
    expect(loadBundle(dir).displayName).toMatch(/SNOOPI tiny/)
    expect(readdirSync(cache)).toEqual(['tiny-test']) // no staging folder left behind
    const written = statSync(join(dir, 'unet', 'model.onnx')).mtimeMs
    lines.length = 0
    expect(ensureGeneratedBundle(cache, 'tiny-test', 'tiny', (line) => lines.push(line))).toBe(dir)
    expect(lines).toEqual([])
    expect(statSync(join(dir, 'unet', 'model.onnx')).mtimeMs).toBe(written)
  })

  it('regenerates a bundle whose generation was interrupted (no snoopi.json)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'snoopi-cache-'))
    const dir = ensureGeneratedBundle(cache, 'tiny-test', 'tiny', () => {})
    rmSync(join(dir, 'snoopi.json'))
    expect(ensureGeneratedBundle(cache, 'tiny-test', 'tiny', () => {})).toBe(dir)
    expect(existsSync(join(dir, 'snoopi.json'))).toBe(true)
  })
})
