import { spawnSync } from 'node:child_process'

export interface Check {
  name: string
  ok: boolean
  /** What to do when it is missing. */
  fix: string
}

export type Probe = (command: string, args: string[], env?: NodeJS.ProcessEnv) => { status: number | null; stdout: string }

export const runProbe: Probe = (command, args, env) => {
  const result = spawnSync(command, args, { encoding: 'utf8', env: env ?? process.env, timeout: 30_000 })
  return { status: result.error ? null : result.status, stdout: result.stdout ?? '' }
}

/**
 * Everything `npm run deploy` needs, checked before anything is changed, each with how to get it.
 * Real deployment needs AWS and Cloudflare credentials, a Docker engine and a certificate; none of
 * them exist in CI, so CI only tests this planning part.
 */
export function checkPrerequisites(env: NodeJS.ProcessEnv, probe: Probe = runProbe): Check[] {
  const works = (command: string, args: string[]) => probe(command, args).status === 0
  return [
    { name: 'docker engine', ok: works('docker', ['info', '--format', '{{.ServerVersion}}']), fix: 'install Docker and start its engine (docker info must work): the GPU image is built locally' },
    { name: 'aws CLI', ok: works('aws', ['--version']), fix: 'install the AWS CLI v2 (https://docs.aws.amazon.com/cli/) — used to log in to ECR' },
    {
      name: 'AWS credentials',
      ok: works('aws', ['sts', 'get-caller-identity']),
      fix: 'configure credentials (aws configure / AWS_PROFILE / SSO) for the target account; the CDK stacks deploy there',
    },
    {
      name: 'CDK bootstrap region',
      ok: Boolean(env.AWS_REGION ?? env.CDK_DEFAULT_REGION),
      fix: 'set AWS_REGION (and run `npx aws-cdk@2 bootstrap` once per account/region)',
    },
    {
      name: 'TLS certificate for the ALB',
      ok: /^arn:aws:acm:/.test(env.CERTIFICATE_ARN ?? ''),
      fix: 'request an ACM certificate for the GPU origin domain and set CERTIFICATE_ARN=arn:aws:acm:…',
    },
    {
      name: 'GPU origin domain',
      ok: /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(env.GPU_DOMAIN ?? ''),
      fix: 'set GPU_DOMAIN to the GPU origin hostname the certificate covers (e.g. gpu.example.com), and point it at the ALB afterwards',
    },
    {
      name: 'Cloudflare API token',
      ok: Boolean(env.CLOUDFLARE_API_TOKEN),
      fix: 'create an API token with Workers Scripts, Workers R2, Workers KV and Zone Workers Routes edit rights and set CLOUDFLARE_API_TOKEN',
    },
  ]
}
