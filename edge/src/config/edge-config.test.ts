import { describe, expect, it } from 'vitest'
import { edgeConfig } from './edge-config.ts'

const secret = 'x'.repeat(40)

describe('edgeConfig', () => {
  it('parses and fills defaults, trimming a trailing slash from the URL', () => {
    expect(edgeConfig({ GPU_SERVICE_URL: 'https://gpu.example.com/', GPU_SERVICE_SECRET: secret })).toEqual({
      ok: true,
      config: { GPU_SERVICE_URL: 'https://gpu.example.com', GPU_SERVICE_SECRET: secret, GPU_TIMEOUT_MS: 30_000 },
    })
  })

  it('names every bad binding', () => {
    const result = edgeConfig({ GPU_SERVICE_URL: 'ftp://x', GPU_SERVICE_SECRET: 'short', GPU_TIMEOUT_MS: 'soon' })
    expect(result.ok).toBe(false)
    const problems = result.ok ? [] : result.problems
    expect(problems).toHaveLength(3)
    expect(problems[0]).toMatch(/^GPU_SERVICE_URL: must be an http\(s\) URL/)
    expect(problems[1]).toMatch(/^GPU_SERVICE_SECRET: must be at least 32 characters/)
    expect(problems[2]).toMatch(/^GPU_TIMEOUT_MS:/)
  })

  it('says where to set a missing secret', () => {
    const result = edgeConfig({ GPU_SERVICE_URL: 'http://127.0.0.1:8788' })
    expect(result.ok ? [] : result.problems).toEqual([
      'GPU_SERVICE_SECRET: is required (set it in .dev.vars or with `wrangler secret put`)',
    ])
  })
})
