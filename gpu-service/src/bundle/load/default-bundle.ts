import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { writeBundle } from '../build/bundle-writer.ts'
import { presets, type PresetName } from '../build/presets.ts'
import { BundleError } from './model-bundle.ts'

/**
 * The built-in default model, committed with the code: a one-step PG-SB student for 32×32 images of
 * coloured shapes, trained by `npm run train:default` (training/). Set MODEL_DIR or MODEL_S3_URI to
 * serve a real exported model instead.
 */
export const DEFAULT_BUNDLE_DIR = resolve(import.meta.dirname, '../../../assets/default-bundle')

export function defaultBundleDir(log: (line: string) => void = console.log): string {
  if (!existsSync(join(DEFAULT_BUNDLE_DIR, 'snoopi.json'))) {
    throw new BundleError(DEFAULT_BUNDLE_DIR, 'the built-in default model is missing; restore it with `git checkout gpu-service/assets/default-bundle`, retrain it with `npm run train:default`, or set MODEL_DIR')
  }
  log(`serving the built-in default model (${DEFAULT_BUNDLE_DIR}); set MODEL_DIR to serve another`)
  return DEFAULT_BUNDLE_DIR
}

/**
 * A generated bundle `name` of `preset` (random weights, seed 0) under `cacheDir`, made on first use;
 * for tests and benchmarks that need a model of a given size. Generation goes to a temporary folder
 * that is renamed into place, so a half-written bundle is never used.
 */
export function ensureGeneratedBundle(cacheDir: string, name: string, preset: PresetName, log: (line: string) => void, hint = ''): string {
  const target = join(cacheDir, name)
  if (existsSync(join(target, 'snoopi.json'))) return target
  mkdirSync(cacheDir, { recursive: true })
  log(`generating the ${name} bundle (${preset} preset, random weights) into ${target}${hint ? `; ${hint}` : ''}`)
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
