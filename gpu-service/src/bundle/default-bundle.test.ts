import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_BUNDLE_NAME, ensureDefaultBundle } from './default-bundle.ts'
import { loadBundle } from './model-bundle.ts'

describe('ensureDefaultBundle', () => {
  it('generates the bundle once, says so, and reuses it afterwards', () => {
    const cache = mkdtempSync(join(tmpdir(), 'snoopi-cache-'))
    const lines: string[] = []
    const dir = ensureDefaultBundle(cache, (line) => lines.push(line))
    expect(dir).toBe(join(cache, DEFAULT_BUNDLE_NAME))
    expect(lines[0]).toMatch(/generating the built-in default-tiny-v1 bundle \(tiny preset, random weights\) .* set MODEL_DIR to serve a real model/)
    expect(loadBundle(dir).displayName).toMatch(/SNOOPI tiny/)
    expect(readdirSync(cache)).toEqual([DEFAULT_BUNDLE_NAME]) // no staging folder left behind
    const written = statSync(join(dir, 'unet', 'model.onnx')).mtimeMs
    lines.length = 0
    expect(ensureDefaultBundle(cache, (line) => lines.push(line))).toBe(dir)
    expect(lines).toEqual([])
    expect(statSync(join(dir, 'unet', 'model.onnx')).mtimeMs).toBe(written)
  })

  it('regenerates a bundle whose generation was interrupted (no snoopi.json)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'snoopi-cache-'))
    const dir = ensureDefaultBundle(cache, () => {})
    rmSync(join(dir, 'snoopi.json'))
    expect(ensureDefaultBundle(cache, () => {})).toBe(dir)
    expect(existsSync(join(dir, 'snoopi.json'))).toBe(true)
  })
})
