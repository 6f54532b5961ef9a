import { mkdirSync, readFileSync } from 'node:fs'

/** A shell step (argv, optional stdin, optional captured stdout) or a computation on the context. */
export type Step =
  | { kind: 'command'; title: string; command: (ctx: Record<string, string>) => string[]; input?: (ctx: Record<string, string>) => string; captureOutputAs?: string }
  | { kind: 'compute'; title: string; run: (ctx: Record<string, string>) => void }

export interface DeployOptions {
  env: 'staging' | 'production'
  imageTag: string
  region: string
  certificateArn: string
  /** The GPU origin's domain (the certificate's name; the edge's GPU_SERVICE_URL host). */
  domainName: string
  /** A model bundle folder to upload to the model bucket before the tier starts (optional). */
  bundleDir?: string | undefined
}

/** Stack names of infra/bin/app.ts: the artifacts stack (ECR, model bucket) is separate so the image can be pushed before the service exists. */
export const stackNames = (env: string) => ({ registry: `SnoopiGpuArtifacts-${env}`, gpuTier: `SnoopiGpuTier-${env}` })

const cdk = (env: string, stack: string, outputs: string, extra: string[] = []) => [
  'npx',
  '--yes',
  'aws-cdk@2',
  'deploy',
  stack,
  '--app',
  'node infra/bin/app.ts',
  '-c',
  `env=${env}`,
  ...extra,
  '--require-approval',
  'never',
  '--outputs-file',
  outputs,
]

function readOutput(file: string, stack: string, key: string): string {
  const outputs = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>
  const value = outputs[stack]?.[key]
  if (!value) throw new Error(`${file} has no output ${stack}.${key}`)
  return value
}

/** The deployment, in order. Secrets the worker already has (admin token, cache key) are kept. */
export function deploySteps({ env, imageTag, region, certificateArn, domainName, bundleDir }: DeployOptions): Step[] {
  const stacks = stackNames(env)
  const out = `.cache/deploy/${env}`
  // Deploying either stack synthesises the whole app, so both get the full context.
  const context = ['-c', `imageTag=${imageTag}`, '-c', `certificateArn=${certificateArn}`, '-c', `domainName=${domainName}`]
  const upload: Step[] = bundleDir
    ? [
        {
          kind: 'command',
          title: `upload the model bundle ${bundleDir} (with SHA256SUMS) to the model bucket`,
          command: (ctx) => ['aws', 's3', 'sync', bundleDir, `s3://${ctx.modelBucket}/bundles/snoopi-default/`, '--delete', '--region', region],
        },
      ]
    : []
  return [
    { kind: 'compute', title: `prepare ${out}/`, run: () => mkdirSync(out, { recursive: true }) },
    { kind: 'command', title: `deploy the artifacts stack (ECR, model bucket) ${stacks.registry}`, command: () => cdk(env, stacks.registry, `${out}/registry.json`, context) },
    {
      kind: 'compute',
      title: 'read the repository URI and the model bucket',
      run: (ctx) => {
        ctx.repository = readOutput(`${out}/registry.json`, stacks.registry, 'EcrRepositoryUri')
        ctx.modelBucket = readOutput(`${out}/registry.json`, stacks.registry, 'ModelBucketName')
      },
    },
    {
      kind: 'command',
      title: 'log Docker in to ECR',
      command: () => ['aws', 'ecr', 'get-login-password', '--region', region],
      captureOutputAs: 'ecrPassword',
    },
    { kind: 'command', title: 'docker login', command: (ctx) => ['docker', 'login', '--username', 'AWS', '--password-stdin', (ctx.repository ?? '').split('/')[0] as string], input: (ctx) => ctx.ecrPassword ?? '' },
    { kind: 'command', title: `build the GPU image (gpu-service/Dockerfile, tag ${imageTag})`, command: (ctx) => ['docker', 'build', '-f', 'gpu-service/Dockerfile', '-t', `${ctx.repository}:${imageTag}`, '.'] },
    { kind: 'command', title: 'push the image', command: (ctx) => ['docker', 'push', `${ctx.repository}:${imageTag}`] },
    ...upload,
    {
      kind: 'command',
      title: `deploy the GPU tier stack ${stacks.gpuTier} (ECS on GPU instances, ALB, autoscaling, S3, alarms)`,
      command: () => cdk(env, stacks.gpuTier, `${out}/gpu-tier.json`, context),
    },
    {
      kind: 'compute',
      title: 'read the GPU origin URL and its secret ARN',
      run: (ctx) => {
        ctx.gpuUrl = readOutput(`${out}/gpu-tier.json`, stacks.gpuTier, 'AlbUrl')
        ctx.secretArn = readOutput(`${out}/gpu-tier.json`, stacks.gpuTier, 'GpuSecretArn')
      },
    },
    {
      kind: 'command',
      title: 'read the shared HMAC secret from Secrets Manager',
      command: (ctx) => ['aws', 'secretsmanager', 'get-secret-value', '--region', region, '--secret-id', ctx.secretArn ?? '', '--query', 'SecretString', '--output', 'text'],
      captureOutputAs: 'gpuSecret',
    },
    { kind: 'command', title: 'set the worker secret GPU_SERVICE_SECRET', command: () => ['npx', 'wrangler', 'secret', 'put', 'GPU_SERVICE_SECRET', '--env', env], input: (ctx) => ctx.gpuSecret ?? '' },
    { kind: 'command', title: 'list the worker secrets already set', command: () => ['npx', 'wrangler', 'secret', 'list', '--env', env, '--format', 'json'], captureOutputAs: 'secretList' },
    {
      kind: 'command',
      title: 'set ADMIN_TOKEN if the worker has none yet (printed once below)',
      command: (ctx) => (hasSecret(ctx, 'ADMIN_TOKEN') ? ['true'] : ['npx', 'wrangler', 'secret', 'put', 'ADMIN_TOKEN', '--env', env]),
      input: (ctx) => ctx.adminToken ?? '',
    },
    {
      kind: 'command',
      title: 'set CACHE_KEY_SECRET if the worker has none yet (changing it would orphan every cached image)',
      command: (ctx) => (hasSecret(ctx, 'CACHE_KEY_SECRET') ? ['true'] : ['npx', 'wrangler', 'secret', 'put', 'CACHE_KEY_SECRET', '--env', env]),
      input: (ctx) => ctx.cacheKeySecret ?? '',
    },
    { kind: 'command', title: `deploy the worker (wrangler deploy --env ${env}) pointed at the GPU origin`, command: (ctx) => ['npx', 'wrangler', 'deploy', '--env', env, '--var', `GPU_SERVICE_URL:${ctx.gpuUrl}`] },
    {
      kind: 'compute',
      title: 'report the admin token if it was created now',
      run: (ctx) => {
        if (!hasSecret(ctx, 'ADMIN_TOKEN')) console.log(`ADMIN_TOKEN (store it now; it is not shown again): ${ctx.adminToken}`)
      },
    },
  ]
}

function hasSecret(ctx: Record<string, string>, name: string): boolean {
  try {
    return (JSON.parse(ctx.secretList ?? '[]') as { name: string }[]).some((s) => s.name === name)
  } catch {
    return false
  }
}
