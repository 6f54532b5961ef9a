import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parse } from 'smol-toml'
import { describe, expect, it } from 'vitest'

/** wrangler.toml as the deploy sees it: the top level (local dev) and the staging/production environments. */
const root = resolve(import.meta.dirname, '..')
const config = parse(readFileSync(join(root, 'wrangler.toml'), 'utf8')) as unknown as WranglerSection & { env: Record<string, WranglerSection> }
const environments = ['staging', 'production'] as const
const secrets = ['GPU_SERVICE_SECRET', 'ADMIN_TOKEN', 'CACHE_KEY_SECRET']

interface WranglerSection {
  name?: string
  vars?: Record<string, string>
  durable_objects?: { bindings: { name: string; class_name: string }[] }
  r2_buckets?: { binding: string; bucket_name: string }[]
  kv_namespaces?: { binding: string; id: string }[]
  ratelimits?: { name: string; namespace_id: string; simple: { limit: number; period: number } }[]
  migrations?: { tag: string; new_sqlite_classes?: string[] }[]
  queues?: { producers?: { binding: string; queue: string }[]; consumers?: { queue: string; dead_letter_queue?: string; max_retries?: number; max_batch_size?: number; max_batch_timeout?: number }[] }
  routes?: { pattern: string; custom_domain?: boolean }[]
  observability?: { enabled: boolean }
}

/** Every binding a section declares, by kind. */
function bindings(section: WranglerSection) {
  return {
    durableObjects: (section.durable_objects?.bindings ?? []).map((b) => `${b.name}→${b.class_name}`).sort(),
    r2: (section.r2_buckets ?? []).map((b) => b.binding).sort(),
    kv: (section.kv_namespaces ?? []).map((b) => b.binding).sort(),
    ratelimits: (section.ratelimits ?? []).map((b) => `${b.name}:${b.simple.limit}/${b.simple.period}s`).sort(),
    vars: Object.keys(section.vars ?? {}).sort(),
    migrations: (section.migrations ?? []).map((m) => `${m.tag}:${(m.new_sqlite_classes ?? []).join(',')}`),
    queueProducers: (section.queues?.producers ?? []).map((p) => p.binding).sort(),
    // Consumers by role (the jobs queue and its dead-letter queue), with their settings; names differ per environment.
    queueConsumers: (section.queues?.consumers ?? [])
      .map((c) => `${c.dead_letter_queue ? 'jobs' : 'dlq'}:${c.max_batch_size}/${c.max_batch_timeout}s/${c.max_retries}`)
      .sort(),
  }
}

describe('wrangler environments', () => {
  it.each(environments)('%s declares every binding, var and migration of the worker', (name) => {
    const env = config.env[name]!
    expect(bindings(env)).toEqual(bindings(config))
    expect(env.name).toBe(`snoopi-edge-${name}`)
  })

  it.each(environments)('%s routes a custom domain (the Cache API does nothing on workers.dev) and has observability on', (name) => {
    const env = config.env[name]!
    expect(env.routes?.length).toBeGreaterThan(0)
    for (const route of env.routes ?? []) expect(route.custom_domain).toBe(true)
    expect(env.observability?.enabled).toBe(true)
  })

  it('names the built-in bundle and its version in the local MODELS (the version is part of the image cache key)', () => {
    const bundle = JSON.parse(readFileSync(join(root, 'gpu-service/assets/default-bundle/snoopi.json'), 'utf8')) as { version: string; sizes: string[] }
    expect(JSON.parse(config.vars!.MODELS!)).toEqual([{ id: 'snoopi-default', version: bundle.version, sizes: bundle.sizes }])
  })

  it('names one jobs queue per environment, consumed by the worker, with its dead-letter queue consumed too', () => {
    for (const section of [config, ...environments.map((n) => config.env[n]!)]) {
      const produced = section.queues?.producers?.[0]?.queue
      // The chat bots' delivery queue and its DLQ are told apart by name (edge/src/bots/bot-delivery.ts).
      const isBots = (queue: string | undefined) => queue?.startsWith('snoopi-bot-deliveries') === true
      const consumers = (section.queues?.consumers ?? []).filter((c) => !isBots(c.queue))
      expect(consumers.map((c) => c.queue)).toEqual([produced, `${produced}-dlq`])
      expect(consumers[0]?.dead_letter_queue).toBe(`${produced}-dlq`)
      const bots = (section.queues?.consumers ?? []).filter((c) => isBots(c.queue))
      const botProducers = (section.queues?.producers ?? []).filter((p) => isBots(p.queue)).map((p) => p.queue)
      expect(bots.map((c) => c.queue)).toEqual(botProducers)
      expect(bots[0]?.dead_letter_queue).toBe(botProducers[1])
    }
    expect(new Set([config, ...environments.map((n) => config.env[n]!)].map((s) => s.queues?.producers?.[0]?.queue)).size).toBe(3)
  })

  it('keeps secrets out of the file, and the R2 buckets and KV namespaces apart per environment', () => {
    for (const section of [config, ...environments.map((n) => config.env[n]!)]) {
      for (const secret of secrets) expect(Object.keys(section.vars ?? {})).not.toContain(secret)
    }
    const buckets = environments.map((n) => config.env[n]!.r2_buckets?.[0]?.bucket_name)
    const namespaces = environments.map((n) => config.env[n]!.kv_namespaces?.[0]?.id)
    expect(new Set(buckets).size).toBe(2)
    expect(new Set(namespaces).size).toBe(2)
  })

  it('binds only Durable Object classes the worker exports', () => {
    const entry = readFileSync(join(root, 'edge/src/index.ts'), 'utf8')
    for (const binding of config.durable_objects?.bindings ?? []) expect(entry).toMatch(new RegExp(`export \\{ ${binding.class_name} \\}`))
  })

  it.each(environments)('bundles for %s with wrangler deploy --dry-run', (name) => {
    const require = createRequire(import.meta.url)
    const manifest = require.resolve('wrangler/package.json', { paths: [join(root, 'edge')] })
    const wrangler = join(dirname(manifest), 'bin', 'wrangler.js')
    const outdir = mkdtempSync(join(tmpdir(), `wrangler-${name}-`))
    const run = spawnSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--env', name, '--outdir', outdir], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_API_TOKEN: '' },
      timeout: 120_000,
    })
    expect(run.status, run.stderr + run.stdout).toBe(0)
    expect(run.stdout).toMatch(/--dry-run: exiting now/)
    expect(run.stdout).toMatch(/env\.KEY_ACCOUNTS \(KeyAccount\)\s+Durable Object/)
    const bundle = join(outdir, 'index.js')
    expect(existsSync(bundle)).toBe(true)
    expect(statSync(bundle).size).toBeGreaterThan(10_000)
  })
})
