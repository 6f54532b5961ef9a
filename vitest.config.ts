import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

/**
 * One vitest run for every tier:
 * - `edge`: inside workerd, with the real wrangler.toml (Cloudflare's Vitest integration);
 * - `gpu-service`: Node, real HTTP servers and (later) real onnxruntime-node sessions;
 * - `tooling`: the dev scripts (npm start's helpers);
 * - `training`: the PyTorch training recipe's unittest modules and its agreement with the product;
 * - `infra`: the CDK app synthesised offline and checked resource by resource;
 * - `e2e`: Node, starts the whole local stack the way `npm start` does.
 */
export default defineConfig({
  test: {
    // Logs of passing tests (e.g. the edge's internal error lines) are noise; failures keep theirs.
    silent: 'passed-only',
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // No network in the tests: an outbound request that no test intercepts (background work such as a
              // job's or a bot delivery's retry after its test restored fetch) gets a 503, as a host that is down
              // would answer, instead of a DNS failure inside workerd.
              outboundService: (request: Request) =>
                new Response(`no network in tests: ${request.method} ${new URL(request.url).host}`, { status: 503, headers: { 'retry-after': '60' } }),
              // Tests never read the developer's .dev.vars: every binding they depend on is set here.
              bindings: {
                GPU_SERVICE_URL: 'http://gpu.test',
                GPU_TIMEOUT_MS: '1500',
                GPU_SERVICE_SECRET: 'test-secret-0123456789abcdef0123456789',
                ADMIN_TOKEN: 'test-admin-token-0123456789abcdef0123456789',
                CACHE_KEY_SECRET: 'test-cache-key-secret-0123456789abcdef01',
                MODELS: '[{"id":"snoopi-default","version":"test-v1","sizes":["64x64","128x128"]},{"id":"other-model","version":"2","sizes":["512x512"]}]',
                // The chat bots, on, against fake platform hosts (edge/src/testing/bot-platforms.ts); the Discord key
                // pair's private half is there too. Bot routes also need PUBLIC_BASE_URL, which their tests set.
                BOT_API_KEY: 'snp_live_BotOperatorTestKey00000000000001c8DJ9V',
                DISCORD_PUBLIC_KEY: '563a0e6006ea8bb1b17ed990fac32cc3b057ca095ce3ae618e513058befa0868',
                DISCORD_APPLICATION_ID: '100000000000000001',
                DISCORD_BOT_TOKEN: 'test-discord-bot-token',
                DISCORD_API_BASE: 'http://discord.test/api/v10',
                SLACK_SIGNING_SECRET: 'test-slack-signing-secret',
                SLACK_BOT_TOKEN: 'xoxb-test-slack-bot-token',
                SLACK_API_BASE: 'http://slack.test/api',
                SLACK_RESPONSE_URL_PREFIX: 'http://hooks.slack.test/',
                TELEGRAM_BOT_TOKEN: '123456:TEST-telegram-bot-token',
                TELEGRAM_WEBHOOK_SECRET: 'test-telegram-webhook-secret',
                TELEGRAM_API_BASE: 'http://telegram.test',
                // Webhooks in tests go to local receivers; image URLs use each request's origin.
                WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true',
                PUBLIC_BASE_URL: '',
                // A GPU tier that stays down fails a job after 3 s here (10 minutes in wrangler.toml).
                JOB_RETRY_WINDOW_S: '3',
              },
            },
          }),
        ],
        test: { name: 'edge', include: ['edge/src/**/*.test.ts'] },
      },
      {
        test: { name: 'gpu-service', environment: 'node', include: ['gpu-service/src/**/*.test.ts'] },
      },
      {
        test: { name: 'tooling', environment: 'node', include: ['scripts/**/*.test.ts'] },
      },
      {
        // The PyTorch training recipe's tests; installs Debian's python3-torch first when missing.
        test: { name: 'training', environment: 'node', include: ['training/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000 },
      },
      {
        test: { name: 'infra', environment: 'node', include: ['infra/**/*.test.ts'], testTimeout: 120_000 },
      },
      {
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
