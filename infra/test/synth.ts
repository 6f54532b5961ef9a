import { Template } from 'aws-cdk-lib/assertions'
import { resolveGpuTierConfig, type EnvironmentName, type GpuTierConfig } from '../lib/environments.ts'
import { buildGpuApp, type GpuApp } from '../lib/gpu-app.ts'

/** A deployment-shaped synthesis: account and region known, every placeholder replaced. */
export const TEST_ACCOUNT = '123456789012'
export const TEST_REGION = 'us-east-1'
export const TEST_CONTEXT = {
  certificateArn: `arn:aws:acm:${TEST_REGION}:${TEST_ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555`,
  domainName: 'origin.example.com',
  imageTag: '0123456789ab',
}

export interface SynthesisedGpuApp extends GpuApp {
  config: GpuTierConfig
  artifactsTemplate: Template
  tierTemplate: Template
  /** Context keys the app asked the CLI to look up (none: synthesis must stay offline). */
  missingContext: unknown[]
}

/** Builds the app exactly as bin/app.ts does (same config resolution, same nag plugin), unsynthesised. */
export function buildTestApp(environment: EnvironmentName, context: Record<string, unknown> = {}): GpuApp & { config: GpuTierConfig } {
  const fullContext = { ...TEST_CONTEXT, ...context }
  const config = resolveGpuTierConfig({
    environment,
    context: fullContext,
    processEnv: { CDK_DEFAULT_ACCOUNT: TEST_ACCOUNT, CDK_DEFAULT_REGION: TEST_REGION },
  })
  return { ...buildGpuApp({ config, context: fullContext }), config }
}

/**
 * Builds and synthesises the app; synthesis runs the nag plugin, which fails it on any
 * unacknowledged finding. Each call synthesises anew: callers cache the result.
 */
export function synthesise(environment: EnvironmentName, context: Record<string, unknown> = {}): SynthesisedGpuApp {
  const { config, ...built } = buildTestApp(environment, context)
  const assembly = built.app.synth()
  return {
    ...built,
    config,
    artifactsTemplate: Template.fromStack(built.artifacts),
    tierTemplate: Template.fromStack(built.tier),
    missingContext: assembly.manifest.missing ?? [],
  }
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[]; DeletionPolicy?: string }>

/** Every resource of a type, by logical id. */
export function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources
}

/** The only resource of a type (and matching `where`, if given); fails when there are none or several. */
export function onlyResource(
  template: Template,
  type: string,
  where: (properties: Record<string, unknown>) => boolean = () => true,
): { id: string; properties: Record<string, unknown>; dependsOn: string[]; deletionPolicy: string | undefined } {
  const entries = Object.entries(resourcesOf(template, type)).filter(([, r]) => where(r.Properties ?? {}))
  if (entries.length !== 1) throw new Error(`expected exactly one ${type}, found ${entries.length}`)
  const [id, resource] = entries[0] as [string, Resources[string]]
  return { id, properties: resource.Properties ?? {}, dependsOn: resource.DependsOn ?? [], deletionPolicy: resource.DeletionPolicy }
}
