import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const APP = fileURLToPath(new URL('../bin/app.ts', import.meta.url))
const outdirs: string[] = []
afterAll(() => outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

/** Runs bin/app.ts the way `npm run synth` does, with CDK_OUTDIR pointing at a fresh folder. */
function runApp(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string; outdir: string }> {
  const outdir = mkdtempSync(join(tmpdir(), 'snoopi-cdk-'))
  outdirs.push(outdir)
  // No inherited CDK_* variables: the runs must not depend on the machine's AWS setup.
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CDK_')))
  return new Promise((resolve) => {
    // CDK_VALIDATION=false skips CDK's built-in CloudFormation schema check (~3 s of cold start per
    // process); gpu-tier-stack.test.ts synthesises with it. cdk-nag still runs here.
    execFile(process.execPath, [APP, ...args], { env: { ...base, CDK_OUTDIR: outdir, CDK_VALIDATION: 'false', ...env } }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, outdir })
    })
  })
}

describe('bin/app.ts', () => {
  it('synthesises both stacks offline, takes -c, and refuses placeholders when deploying for real', async () => {
    const [production, deploying, usage] = await Promise.all([
      runApp(['-c', 'env=production', '-c', 'minTasks=3']),
      runApp(['-c', 'env=staging'], { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'us-east-1' }),
      runApp(['-c', 'env']),
    ])

    expect(production.code, production.stderr).toBe(0)
    for (const stack of ['SnoopiGpuArtifacts-production', 'SnoopiGpuTier-production']) expect(existsSync(join(production.outdir, `${stack}.template.json`))).toBe(true)
    const template = readFileSync(join(production.outdir, 'SnoopiGpuTier-production.template.json'), 'utf8')
    expect(template).toContain('"MinCapacity": 3')

    expect(deploying.code).toBe(1)
    expect(deploying.stderr).toContain('certificateArn: still the placeholder')
    expect(existsSync(join(deploying.outdir, 'manifest.json'))).toBe(false)

    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('-c expects key=value')
  })
})
