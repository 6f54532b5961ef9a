import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..')
// Built from parts so that this file does not match itself.
const outside = new RegExp(['\\.\\./', 'shared\\b|SNOOPI_', 'SHARED'].join(''))

describe('a fresh clone is self-contained', () => {
  it('no tracked source, test or script reads the shared folder beside the checkout, which a user does not have', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
      .split('\0')
      .filter((file) => /\.(ts|js|mjs|cjs|json|toml|py|sh)$|(^|\/)(run|Dockerfile[^/]*)$/.test(file))
    expect(files.length).toBeGreaterThan(100)
    const offenders = files.filter((file) => {
      try {
        return outside.test(readFileSync(join(root, file), 'utf8'))
      } catch {
        return false // listed but deleted in the working tree
      }
    })
    expect(offenders).toEqual([])
  })
})
