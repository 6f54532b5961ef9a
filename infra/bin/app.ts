/**
 * The GPU tier's CDK app. Run by the CDK CLI (`npx aws-cdk@2 deploy -c env=staging`, see
 * infra/README.md), or directly: `node bin/app.ts [-c env=production] [-c key=value …]` writes the
 * cloud assembly to cdk.out without the CLI (what `npm run synth` does).
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { App } from 'aws-cdk-lib'
import { GpuTierConfigError, resolveGpuTierConfig } from '../lib/environments.ts'
import { buildGpuApp } from '../lib/gpu-app.ts'

// The CLI passes context through the environment (App reads it); run directly, `-c key=value` here.
const { values } = parseArgs({ options: { context: { type: 'string', short: 'c', multiple: true } }, strict: true })
const cliContext: Record<string, string> = {}
for (const pair of values.context ?? []) {
  const eq = pair.indexOf('=')
  if (eq <= 0) {
    console.error(`bin/app.ts: -c expects key=value, got ${JSON.stringify(pair)}`)
    process.exit(2)
  }
  cliContext[pair.slice(0, eq)] = pair.slice(eq + 1)
}

// An App only to read the merged context (the CLI's cdk.json and -c values, or ours) before the
// config exists; autoSynth off, or it would write an empty assembly when the process exits.
const context = { ...new App({ context: cliContext, autoSynth: false }).node.getAllContext() } as Record<string, unknown>
// The CLI names the output folder (CDK_OUTDIR); run directly, infra/cdk.out like the CLI's default.
const outdir = process.env.CDK_OUTDIR ? undefined : fileURLToPath(new URL('../cdk.out', import.meta.url))
try {
  const config = resolveGpuTierConfig({ environment: context.env ?? 'staging', context })
  const { app } = buildGpuApp({ config, context, ...(outdir ? { outdir } : {}) })
  const assembly = app.synth()
  console.error(`synthesised ${config.name}: ${assembly.stacks.map((s) => s.stackName).join(', ')} → ${assembly.directory}`)
} catch (error) {
  if (error instanceof GpuTierConfigError) {
    console.error(error.message)
    process.exit(1)
  }
  throw error
}
