import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

/**
 * One vitest run for every tier:
 * - `edge`: inside workerd, with the real wrangler.toml (Cloudflare's Vitest integration);
 * - `gpu-service`: Node, real HTTP servers and (later) real onnxruntime-node sessions;
 * - `e2e`: Node, starts the whole local stack the way `npm start` does.
 */
export default defineConfig({
  test: {
    projects: [
      {
        extends: false,
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Tests never read the developer's .dev.vars: every binding they depend on is set here.
              bindings: {
                GPU_SERVICE_URL: 'http://gpu.test',
                GPU_SERVICE_SECRET: 'test-secret-0123456789abcdef0123456789',
              },
            },
          }),
        ],
        test: { name: 'edge', include: ['edge/src/**/*.test.ts'] },
      },
      {
        extends: false,
        test: { name: 'gpu-service', environment: 'node', include: ['gpu-service/src/**/*.test.ts'] },
      },
      {
        extends: false,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
