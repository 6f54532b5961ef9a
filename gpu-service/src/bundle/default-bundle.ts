import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeBundle } from '../model-builder/bundle-writer.ts'
import { presets, type PresetName } from '../model-builder/presets.ts'

/** Name (and version) of the built-in default bundle; bump when the generator's output changes. */
export const DEFAULT_BUNDLE_NAME = 'default-tiny-v1'

/**
 * The built-in default model: the `tiny` preset with seed 0, generated on first use into
 * `cacheDir`. It has random weights (it draws noise, not pictures) — it exists so the whole product
 * runs on a fresh machine without downloads; set MODEL_DIR to serve a real exported model.
 */
export function ensureDefaultBundle(cacheDir: string, log: (line: string) => void = console.log): string {
  return ensureGeneratedBundle(cacheDir, DEFAULT_BUNDLE_NAME, 'tiny', log, 'set MODEL_DIR to serve a real model')
}

/**
 * A generated bundle `name` of `preset` (seed 0) under `cacheDir`, made on first use. Generation goes
 * to a temporary folder that is renamed into place, so a half-written bundle is never used.
 */
export function ensureGeneratedBundle(cacheDir: string, name: string, preset: PresetName, log: (line: string) => void, hint = ''): string {
  const target = join(cacheDir, name)
  if (existsSync(join(target, 'snoopi.json'))) return target
  mkdirSync(cacheDir, { recursive: true })
  log(`generating the built-in ${name} bundle (${preset} preset, random weights) into ${target}${hint ? `; ${hint}` : ''}`)
  const staging = mkdtempSync(join(cacheDir, `.${name}-`))
  try {
    writeBundle({ preset: presets[preset], out: staging, seed: 0, onProgress: (line) => log(`  ${line}`) })
    rmSync(target, { recursive: true, force: true })
    renameSync(staging, target)
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    throw error
  }
  return target
}
