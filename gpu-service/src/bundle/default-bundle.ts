import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeBundle } from '../model-builder/bundle-writer.ts'
import { presets } from '../model-builder/presets.ts'

/** Name (and version) of the built-in default bundle; bump when the generator's output changes. */
export const DEFAULT_BUNDLE_NAME = 'default-tiny-v1'

/**
 * The built-in default model: the `tiny` preset with seed 0, generated on first use into
 * `cacheDir`. It has random weights (it draws noise, not pictures) — it exists so the whole product
 * runs on a fresh machine without downloads; set MODEL_DIR to serve a real exported model.
 * Generation goes to a temporary folder that is renamed into place, so a half-written bundle is
 * never used.
 */
export function ensureDefaultBundle(cacheDir: string, log: (line: string) => void = console.log): string {
  const target = join(cacheDir, DEFAULT_BUNDLE_NAME)
  if (existsSync(join(target, 'snoopi.json'))) return target
  mkdirSync(cacheDir, { recursive: true })
  log(`generating the built-in default bundle (tiny preset, random weights) into ${target}; set MODEL_DIR to serve a real model`)
  const staging = mkdtempSync(join(cacheDir, `.${DEFAULT_BUNDLE_NAME}-`))
  try {
    writeBundle({ preset: presets.tiny, out: staging, seed: 0, onProgress: (line) => log(`  ${line}`) })
    rmSync(target, { recursive: true, force: true })
    renameSync(staging, target)
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    throw error
  }
  return target
}
