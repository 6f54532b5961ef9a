import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AttentionForm } from '../bundle/build/attention.ts'
import { writeBundle } from '../bundle/build/bundle-writer.ts'
import { presets, type PresetName } from '../bundle/build/presets.ts'

const made = new Map<string, string>()

/** A generated bundle in a temp folder, made once per test file and options. */
export function testBundle(preset: PresetName = 'tiny', options: { attention?: AttentionForm; seed?: number } = {}): string {
  const key = `${preset}:${options.attention ?? 'decomposed'}:${options.seed ?? 0}`
  let dir = made.get(key)
  if (!dir) {
    dir = join(mkdtempSync(join(tmpdir(), 'snoopi-bundle-')), preset)
    writeBundle({ preset: presets[preset], out: dir, ...options })
    made.set(key, dir)
  }
  return dir
}
