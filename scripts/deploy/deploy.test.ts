import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkPrerequisites, type Probe } from './prerequisites.ts'
import { deploySteps } from './steps.ts'

const root = resolve(import.meta.dirname, '../..')

describe('npm run deploy', () => {
  it('explains every missing prerequisite and changes nothing', () => {
    const nothing: Probe = () => ({ status: null, stdout: '' })
    const checks = checkPrerequisites({}, nothing)
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      'docker engine',
      'aws CLI',
      'AWS credentials',
      'CDK bootstrap region',
      'TLS certificate for the ALB',
      'GPU origin domain',
      'Cloudflare API token',
    ])
    for (const check of checks) expect(check.fix.length).toBeGreaterThan(20)
  })

  it('accepts a complete environment', () => {
    const everything: Probe = () => ({ status: 0, stdout: '' })
    const env = { AWS_REGION: 'us-east-1', CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:123456789012:certificate/abc', GPU_DOMAIN: 'gpu.example.com', CLOUDFLARE_API_TOKEN: 't' }
    expect(checkPrerequisites(env, everything).every((c) => c.ok)).toBe(true)
  })

  it('plans the steps in a safe order: image pushed before the service, worker after its secrets', () => {
    const titles = deploySteps({ env: 'staging', imageTag: 'abc', region: 'us-east-1', certificateArn: 'arn:aws:acm:x', domainName: 'gpu.example.com', bundleDir: '/models/sd-turbo' }).map((s) => s.title)
    const at = (text: string) => titles.findIndex((t) => t.includes(text))
    expect(at('push the image')).toBeGreaterThan(at('artifacts stack'))
    expect(at('upload the model bundle')).toBeGreaterThan(at('push the image'))
    expect(at('GPU tier stack')).toBeGreaterThan(at('upload the model bundle'))
    expect(at('GPU_SERVICE_SECRET')).toBeGreaterThan(at('GPU tier stack'))
    expect(at('deploy the worker')).toBeGreaterThan(at('CACHE_KEY_SECRET'))
    expect(titles.at(-1)).toMatch(/admin token/)
  })

  it('prints the plan and the missing prerequisites with --plan, exit 1, and rejects a bad --env with exit 2', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [join(root, 'scripts/deploy.ts'), ...args], { cwd: root, encoding: 'utf8', env: { PATH: '/nonexistent', HOME: process.env.HOME } })
    const plan = run(['--env', 'staging', '--plan'])
    expect(plan.status).toBe(1)
    expect(plan.stdout).toMatch(/MISSING {2}docker engine — install Docker/)
    expect(plan.stdout).toMatch(/steps for staging/)
    expect(plan.stdout).toMatch(/deploy the GPU tier stack SnoopiGpuTier-staging/)
    const bad = run(['--env', 'dev'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--env must be staging or production/)
  })
})
