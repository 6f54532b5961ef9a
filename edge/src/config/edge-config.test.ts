import { describe, expect, it } from 'vitest'
import { edgeConfig } from './edge-config.ts'

const secret = 'x'.repeat(40)
const models = '[{"id":"m","version":"1","sizes":["512x512"]}]'
const valid = { GPU_SERVICE_URL: 'https://gpu.example.com/', GPU_SERVICE_SECRET: secret, ADMIN_TOKEN: secret, CACHE_KEY_SECRET: secret, MODELS: models }

describe('edgeConfig', () => {
  it('parses and fills defaults, trimming a trailing slash from the URL', () => {
    expect(edgeConfig(valid)).toEqual({
      ok: true,
      config: {
        GPU_SERVICE_URL: 'https://gpu.example.com',
        GPU_SERVICE_SECRET: secret,
        GPU_TIMEOUT_MS: 30_000,
        ADMIN_TOKEN: secret,
        CACHE_KEY_SECRET: secret,
        MODELS: [{ id: 'm', version: '1', sizes: ['512x512'] }],
        PUBLIC_BASE_URL: undefined,
        WEBHOOK_ALLOW_LOOPBACK_HTTP: false,
        JOB_RETRY_WINDOW_S: 1800,
      },
    })
  })

  it('names every bad binding', () => {
    const result = edgeConfig({ ...valid, GPU_SERVICE_URL: 'ftp://x', GPU_SERVICE_SECRET: 'short', GPU_TIMEOUT_MS: 'soon', MODELS: '[]' })
    const problems = result.ok ? [] : result.problems
    expect(problems).toHaveLength(4)
    expect(problems[0]).toMatch(/^GPU_SERVICE_URL: must be an http\(s\) URL/)
    expect(problems[1]).toMatch(/^GPU_SERVICE_SECRET: must be at least 32 characters/)
    expect(problems[2]).toMatch(/^GPU_TIMEOUT_MS:/)
    expect(problems[3]).toMatch(/^MODELS: must list at least one model/)
  })

  it('reads PUBLIC_BASE_URL as an origin (empty means unset) and the webhook and job settings', () => {
    const result = edgeConfig({ ...valid, PUBLIC_BASE_URL: 'https://img.example.com/', WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true', JOB_RETRY_WINDOW_S: '900' })
    expect(result.ok && [result.config.PUBLIC_BASE_URL, result.config.WEBHOOK_ALLOW_LOOPBACK_HTTP, result.config.JOB_RETRY_WINDOW_S]).toEqual(['https://img.example.com', true, 900])
    const empty = edgeConfig({ ...valid, PUBLIC_BASE_URL: '' })
    expect(empty.ok && empty.config.PUBLIC_BASE_URL).toBeUndefined()
    const bad = edgeConfig({ ...valid, PUBLIC_BASE_URL: 'ftp://x', WEBHOOK_ALLOW_LOOPBACK_HTTP: 'yes' })
    expect(bad.ok ? [] : bad.problems.map((p) => p.split(':')[0])).toEqual(['PUBLIC_BASE_URL', 'WEBHOOK_ALLOW_LOOPBACK_HTTP'])
  })

  it('says where to set a missing secret and rejects MODELS that is not JSON', () => {
    const { GPU_SERVICE_SECRET: _, ...rest } = valid
    const result = edgeConfig({ ...rest, MODELS: '{nope' })
    expect(result.ok ? [] : result.problems).toEqual([
      'GPU_SERVICE_SECRET: is required (set it in .dev.vars or with `wrangler secret put`)',
      'MODELS: is not valid JSON',
    ])
  })
})
