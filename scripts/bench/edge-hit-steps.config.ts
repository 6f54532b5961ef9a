/**
 * `npm run bench:edge:steps`: the edge project of vitest.config.ts (workerd, the real wrangler.toml and
 * bindings), running only the per-step profile of a cache hit (edge/src/profile/hit-steps.profile.ts).
 */
import { defineConfig } from 'vitest/config'
import base from '../../vitest.config.ts'

type Project = { plugins?: unknown[]; test: Record<string, unknown> }
const edge = (base.test?.projects as Project[]).find((project) => project.test.name === 'edge')
if (!edge) throw new Error('vitest.config.ts has no edge project')

export default defineConfig({
  plugins: edge.plugins as never,
  test: { ...edge.test, name: 'edge-hit-steps', include: ['edge/src/profile/*.profile.ts'], silent: false, testTimeout: 300_000 },
})
