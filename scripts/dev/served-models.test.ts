import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_BUNDLE_DIR } from '@snoopi/gpu-service/bundle/load/default-bundle'
import { servedModels } from './served-models.ts'

const snoopiJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'snoopi.json'), 'utf8')) as { version: string; sizes: string[] }

/** A copy of the built-in bundle whose snoopi.json says another version and sizes. */
function renamedCopy(version: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'snoopi-served-')), 'bundle')
  cpSync(DEFAULT_BUNDLE_DIR, dir, { recursive: true })
  writeFileSync(join(dir, 'snoopi.json'), JSON.stringify({ ...snoopiJson(dir), version, sizes: ['32x32', '64x64'] }))
  return dir
}

describe('servedModels (the edge MODELS npm start passes)', () => {
  it('names the built-in bundle with the version its snoopi.json gives', () => {
    const served = servedModels({})
    expect(JSON.parse(served!.models)).toEqual([{ id: 'snoopi-default', version: snoopiJson(DEFAULT_BUNDLE_DIR).version, sizes: snoopiJson(DEFAULT_BUNDLE_DIR).sizes }])
  })

  it('follows MODEL_DIR and MODEL_ID, so a retrained bundle is cached under its own version', () => {
    const served = servedModels({ MODEL_DIR: renamedCopy('retrained-on-cpu'), MODEL_ID: 'mine' })
    expect(served!.version).toBe('retrained-on-cpu')
    expect(JSON.parse(served!.models)).toEqual([{ id: 'mine', version: 'retrained-on-cpu', sizes: ['32x32', '64x64'] }])
  })

  it.each([
    ['MODELS is set in .dev.vars', {}, { MODELS: '[]' }],
    ['the bundle comes from S3', { MODEL_S3_URI: 's3://bucket/bundle/' }, {}],
    ['MODEL_DIR is not a bundle (the GPU service reports it)', { MODEL_DIR: tmpdir() }, {}],
  ])('leaves wrangler.toml alone when %s', (_why, env, edgeVars) => {
    expect(servedModels(env, edgeVars)).toBeUndefined()
  })
})
