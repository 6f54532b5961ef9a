import { existsSync, mkdirSync, mkdtempSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { removeAbandonedStaging } from './s3-model-store.ts'

describe('removeAbandonedStaging', () => {
  it('removes staging folders older than six hours and keeps recent ones and bundles', () => {
    const cache = mkdtempSync(join(tmpdir(), 'snoopi-store-'))
    for (const name of ['.staging-old', '.staging-new', 'bucket']) mkdirSync(join(cache, name))
    const sevenHoursAgo = (Date.now() - 7 * 3600_000) / 1000
    utimesSync(join(cache, '.staging-old'), sevenHoursAgo, sevenHoursAgo)
    utimesSync(join(cache, 'bucket'), sevenHoursAgo, sevenHoursAgo)
    const lines: string[] = []
    removeAbandonedStaging(cache, (line) => lines.push(line))
    expect(existsSync(join(cache, '.staging-old'))).toBe(false)
    expect(existsSync(join(cache, '.staging-new'))).toBe(true)
    expect(existsSync(join(cache, 'bucket'))).toBe(true)
    expect(lines).toEqual([`model store: removed the abandoned download ${join(cache, '.staging-old')}`])
  })
})
