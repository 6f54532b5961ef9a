import { App, Tags, Validations } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import type { GpuTierConfig } from './environments.ts'
import { FEATURE_FLAGS } from './feature-flags.ts'
import { GpuArtifactsStack } from './gpu-artifacts-stack.ts'
import { GpuTierStack } from './gpu-tier-stack.ts'

export interface GpuApp {
  app: App
  artifacts: GpuArtifactsStack
  tier: GpuTierStack
}

export interface BuildGpuAppOptions {
  config: GpuTierConfig
  /** Context for the App (the CLI's `-c` values); the feature flags are added underneath. */
  context?: Record<string, unknown>
  /** Cloud assembly folder; default the CDK's (cdk.out, or the CLI's choice). */
  outdir?: string
}

/** Stack names per environment: what `cdk deploy <name>` and the deploy script use. */
export function stackNames(environment: string): { artifacts: string; tier: string } {
  return { artifacts: `SnoopiGpuArtifacts-${environment}`, tier: `SnoopiGpuTier-${environment}` }
}

/**
 * The CDK app for one environment: the artifacts stack, the tier stack that uses it, and cdk-nag's
 * AWS Solutions checks, which run at synthesis and fail it on any unacknowledged finding.
 */
export function buildGpuApp({ config, context = {}, outdir }: BuildGpuAppOptions): GpuApp {
  const app = new App({ context: { ...FEATURE_FLAGS, ...context }, ...(outdir ? { outdir } : {}) })
  const env = { account: config.account, region: config.region }
  const names = stackNames(config.name)
  const artifacts = new GpuArtifactsStack(app, names.artifacts, {
    env,
    config,
    description: `SNOOPI GPU tier (${config.name}): image repository, model bucket, edge ↔ GPU secret`,
  })
  const tier = new GpuTierStack(app, names.tier, {
    env,
    config,
    repository: artifacts.repository,
    modelBucket: artifacts.modelBucketExports,
    serviceSecret: artifacts.serviceSecret,
    description: `SNOOPI GPU tier (${config.name}): VPC, ECS on GPU instances, ALB, autoscaling, alarms`,
  })
  // Explicit: the model bucket reaches the tier through exportValue, which CDK does not track.
  tier.addStackDependency(artifacts, 'the model bucket exports')
  for (const stack of [artifacts, tier]) {
    Tags.of(stack).add('project', 'snoopi')
    Tags.of(stack).add('environment', config.name)
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
  return { app, artifacts, tier }
}
