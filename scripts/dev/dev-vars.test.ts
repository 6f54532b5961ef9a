import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ensureDevVars, parseDotenv } from './dev-vars.ts'

describe('dev vars', () => {
  it('creates a private file with fresh 64-hex-digit secrets once, then reuses them', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'devvars-')), '.dev.vars')
    const first = ensureDevVars(path)
    expect(first.created).toBe(true)
    expect(first.added).toEqual(['GPU_SERVICE_SECRET', 'ADMIN_TOKEN', 'CACHE_KEY_SECRET'])
    for (const name of first.added) expect(first.vars[name]).toMatch(/^[0-9a-f]{64}$/)
    expect(new Set(Object.values(first.vars)).size).toBe(3)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const second = ensureDevVars(path)
    expect(second).toEqual({ vars: first.vars, created: false, added: [] })
  })

  it('keeps what the developer wrote and adds only the missing secrets', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'devvars-')), '.dev.vars')
    writeFileSync(path, 'GPU_SERVICE_SECRET="mine-0123456789abcdef0123456789abcdef"\n')
    const result = ensureDevVars(path)
    expect(result.vars.GPU_SERVICE_SECRET).toBe('mine-0123456789abcdef0123456789abcdef')
    expect(result.added).toEqual(['ADMIN_TOKEN', 'CACHE_KEY_SECRET'])
    expect(readFileSync(path, 'utf8')).toContain('mine-')
  })

  it('parses the dotenv subset wrangler accepts', () => {
    expect(
      parseDotenv("# comment\n\nA=1\nexport B = two words # note\nC='x=y'\nD=\"#hash\"\nnot a line\n"),
    ).toEqual({ A: '1', B: 'two words', C: 'x=y', D: '#hash' })
  })
})
