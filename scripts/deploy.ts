/**
 * `npm run deploy -- --env staging|production [--plan]`: builds and pushes the GPU image, deploys the
 * CDK stacks, reads their outputs (the GPU origin URL and secret), sets the worker's secrets and
 * deploys the worker. Prerequisites are checked first; `--plan` prints the steps without running any.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { checkPrerequisites } from './deploy/prerequisites.ts'
import { deploySteps, type Step } from './deploy/steps.ts'

const usage = `Usage: npm run deploy -- --env staging|production [--plan]

Builds and pushes the GPU image, deploys the AWS CDK stacks (infra/), reads their outputs, sets the
worker's secrets and deploys the worker (wrangler.toml environment of the same name).

Needs: a Docker engine, the AWS CLI with credentials, AWS_REGION, CERTIFICATE_ARN (ACM, for the GPU
origin's HTTPS), GPU_DOMAIN (the origin's hostname), CLOUDFLARE_API_TOKEN. Optional: MODEL_BUNDLE_DIR,
a bundle folder to upload to the model bucket. --plan lists the steps and checks without changing anything.`

const { values } = parseArgs({ options: { env: { type: 'string' }, plan: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } })
if (values.help) {
  console.log(usage)
  process.exit(0)
}
if (values.env !== 'staging' && values.env !== 'production') {
  console.error(`npm run deploy: --env must be staging or production\n\n${usage}`)
  process.exit(2)
}

const root = resolve(import.meta.dirname, '..')
const checks = checkPrerequisites(process.env)
const missing = checks.filter((c) => !c.ok)
for (const check of checks) console.log(`${check.ok ? 'ok     ' : 'MISSING'}  ${check.name}${check.ok ? '' : ` — ${check.fix}`}`)
const gitSha = (spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout ?? '').trim() || 'dev'
const steps = deploySteps({
  env: values.env,
  imageTag: gitSha,
  region: process.env.AWS_REGION ?? '<region>',
  certificateArn: process.env.CERTIFICATE_ARN ?? '<certificate-arn>',
  domainName: process.env.GPU_DOMAIN ?? '<gpu-domain>',
  bundleDir: process.env.MODEL_BUNDLE_DIR,
})
console.log(`\nsteps for ${values.env} (image tag ${gitSha}):`)
steps.forEach((step, i) => console.log(`  ${i + 1}. ${step.title}`))
if (values.plan) process.exit(missing.length > 0 ? 1 : 0)
if (missing.length > 0) {
  console.error(`\n${missing.length} prerequisite(s) missing; nothing was changed.`)
  process.exit(1)
}

const context: Record<string, string> = { adminToken: randomBytes(32).toString('hex'), cacheKeySecret: randomBytes(32).toString('hex') }
for (const [i, step] of steps.entries()) {
  console.log(`\n[${i + 1}/${steps.length}] ${step.title}`)
  runStep(step, context)
}
console.log(`\n${values.env} deployed.`)

function runStep(step: Step, ctx: Record<string, string>): void {
  if (step.kind === 'compute') {
    step.run(ctx)
    return
  }
  const [command, ...args] = step.command(ctx)
  const result = spawnSync(command as string, args, { cwd: root, stdio: step.captureOutputAs ? ['inherit', 'pipe', 'inherit'] : 'inherit', input: step.input?.(ctx), encoding: 'utf8' })
  if (result.status !== 0) {
    console.error(`step failed (exit ${result.status}): ${step.title}`)
    process.exit(1)
  }
  if (step.captureOutputAs) ctx[step.captureOutputAs] = result.stdout.trim()
}
