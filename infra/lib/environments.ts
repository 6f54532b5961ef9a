/**
 * The GPU tier's configuration per deployment environment: every knob of the CDK app, resolved and
 * validated in one place, so a bad value stops synthesis with a message that names it.
 *
 * Resolution, later wins: the defaults of the environment below → CDK context (`-c key=value`, from
 * the CDK CLI or `node bin/app.ts`) → nothing else. Account and region come from `CDK_DEFAULT_ACCOUNT`
 * / `CDK_DEFAULT_REGION`, which the CDK CLI sets from the caller's credentials.
 *
 * Placeholders (certificate, domain, image tag) let the app synthesise offline (tests, CI, `npm run
 * synth`); once an account is known, which is what `cdk deploy` with credentials looks like, a
 * placeholder left in place is an error that says which `-c` to pass.
 */

export const ENVIRONMENT_NAMES = ['staging', 'production'] as const
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number]

/** The GPU service's own limits (gpu-service/src/config/service-config.ts), set on the task. */
export interface GpuServiceLimits {
  /** MAX_BATCH_SIZE: images per UNet call. */
  maxBatchSize: number
  /** MAX_QUEUE_IMAGES: queued images at most; beyond, 503 + Retry-After. */
  maxQueueImages: number
  /** REQUEST_TIMEOUT_MS: default deadline of one generation; the ALB idle timeout must exceed it. */
  requestTimeoutMs: number
  /** SHUTDOWN_TIMEOUT_S: how long the service drains on SIGTERM; the ECS stop timeout exceeds it. */
  shutdownTimeoutS: number
}

export interface GpuTierConfig {
  name: EnvironmentName
  /** Undefined: an environment-agnostic synthesis (no credentials). */
  account: string | undefined
  region: string
  /**
   * Pinned zones (two or more; the ALB needs two), for zones where the instance type is offered;
   * undefined: the region's first two, resolved by CloudFormation at deploy time (Fn::GetAZs).
   */
  availabilityZones: string[] | undefined
  /** NAT gateways: 1 (one shared, cheaper, one AZ's NAT is a single point of egress) … one per AZ. */
  natGateways: number
  /** An x86 NVIDIA GPU instance type (one GPU per task, so one task per instance). */
  instanceType: string
  /**
   * The warm minimum of tasks (= GPU instances). 0 lets the tier sleep: it goes to 0 tasks when idle
   * and wakes on the ALB's no-target 503s (constructs/sleep-at-zero.ts; README: sleeping at zero).
   */
  minTasks: number
  maxTasks: number
  /** Target of the Average of `InFlightRequests` (queued + running requests) per task. */
  targetInFlightPerTask: number
  /** ACM certificate for `domainName`, in this account and region. */
  certificateArn: string
  /** The origin hostname Cloudflare proxies to (a CNAME to the ALB); the edge's GPU_SERVICE_URL host. */
  domainName: string
  /** Key prefix of the model bundle in the model bucket, ending in `/` (MODEL_S3_URI's path). */
  modelPrefix: string
  /** The image tag in the ECR repository (tags are immutable: a git SHA, never `latest`). */
  imageTag: string
  /** Soft memory reservation of the container (the instance has 16 GiB on g5/g6.xlarge). */
  memoryReservationMiB: number
  /** How long ECS ignores failing health checks of a new task: longer than download + model load. */
  healthCheckGracePeriodS: number
  /** ALB idle timeout: longer than the longest generation. */
  albIdleTimeoutS: number
  logRetentionDays: number
  service: GpuServiceLimits
  alarms: {
    /** Where alarm notifications go by email (optional; the SNS topic exists either way). */
    email: string | undefined
    /** Target 5xx responses as a percentage of requests. */
    target5xxPercent: number
    /** p99 of the targets' response time, seconds. */
    p99ResponseTimeS: number
  }
}

/** Values that synthesise but must be replaced before a real deployment. */
export const PLACEHOLDERS = {
  certificateArn: 'arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000',
  /**
   * Default domains end in `.example`, reserved by RFC 2606 so it can never be a real origin; they
   * are the hosts wrangler.toml's GPU_SERVICE_URL names until the real ones are set.
   */
  domainSuffix: '.example',
  imageTag: 'unset',
} as const

const DEFAULT_REGION = 'us-east-1'

/** Shared by both environments; each overrides what differs. */
const BASE = {
  natGateways: 1,
  targetInFlightPerTask: 4,
  certificateArn: PLACEHOLDERS.certificateArn,
  modelPrefix: 'bundles/snoopi-default/',
  imageTag: PLACEHOLDERS.imageTag,
  memoryReservationMiB: 12_288,
  healthCheckGracePeriodS: 600,
  albIdleTimeoutS: 120,
  service: { maxBatchSize: 4, maxQueueImages: 32, requestTimeoutMs: 60_000, shutdownTimeoutS: 30 },
  alarms: { email: undefined, target5xxPercent: 5, p99ResponseTimeS: 20 },
} satisfies Partial<GpuTierConfig>

type EnvironmentDefaults = Omit<GpuTierConfig, 'name' | 'account' | 'region' | 'availabilityZones'>

/**
 * Why these numbers:
 * - minTasks ≥ 1 in both: a new GPU task needs minutes (instance launch, ~10 GB image pull, model
 *   download, CUDA session warm-up), and target tracking cannot scale out from 0 at all, because the
 *   metric it reads is published by the tasks themselves. Production keeps 2 so losing one instance
 *   or one AZ leaves a warm task serving while the replacement starts. `-c minTasks=0` (or 0 here)
 *   lets an environment sleep instead: the first request after a sleep waits out a cold start
 *   (estimated 8–20 minutes, README) in the edge's job queue.
 * - targetInFlightPerTask 4 = MAX_BATCH_SIZE: one full batch running while the next fills; well below
 *   MAX_QUEUE_IMAGES (32), so scale-out starts long before the service sheds load.
 * - natGateways: staging shares one NAT (an AZ outage there is acceptable); production has one per AZ.
 */
const DEFAULTS: Record<EnvironmentName, EnvironmentDefaults> = {
  staging: {
    ...BASE,
    instanceType: 'g5.xlarge',
    minTasks: 1,
    maxTasks: 2,
    domainName: `gpu-staging.snoopi${PLACEHOLDERS.domainSuffix}`,
    logRetentionDays: 30,
  },
  production: {
    ...BASE,
    natGateways: 2,
    instanceType: 'g6.xlarge',
    minTasks: 2,
    maxTasks: 8,
    domainName: `gpu.snoopi${PLACEHOLDERS.domainSuffix}`,
    logRetentionDays: 90,
  },
}

/** Context keys that override a default; each is parsed by the type of the default it replaces. */
const STRING_OVERRIDES = ['certificateArn', 'domainName', 'imageTag', 'instanceType', 'modelPrefix'] as const
const NUMBER_OVERRIDES = ['minTasks', 'maxTasks', 'targetInFlightPerTask', 'natGateways'] as const

/**
 * Every x86 NVIDIA family with the ECS GPU AMI: the image is linux/amd64 with CUDA, so Graviton
 * (g5g) and AMD (g4ad) GPU instances cannot run it.
 */
const GPU_FAMILIES = ['g4dn', 'g5', 'g6', 'g6e', 'gr6', 'p4d', 'p4de', 'p5', 'p5e', 'p5en']

/** What CloudWatch Logs accepts as a retention. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]

/** ECS caps a container's stopTimeout at 120 s; the task gets SHUTDOWN_TIMEOUT_S plus this margin. */
export const STOP_TIMEOUT_MARGIN_S = 15
const MAX_STOP_TIMEOUT_S = 120

export class GpuTierConfigError extends Error {
  override name = 'GpuTierConfigError'
}

export interface ResolveOptions {
  /** `-c env=…`; default staging. */
  environment?: unknown
  /** CDK context: the overrides above, plus `alarmEmail`. */
  context?: Record<string, unknown>
  /** Default `process.env`: CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION. */
  processEnv?: Record<string, string | undefined>
}

/** Resolves and validates the configuration; throws one GpuTierConfigError listing every problem. */
export function resolveGpuTierConfig({ environment = 'staging', context = {}, processEnv = process.env }: ResolveOptions = {}): GpuTierConfig {
  if (!isEnvironmentName(environment)) {
    throw new GpuTierConfigError(`env must be one of ${ENVIRONMENT_NAMES.join(', ')} (got ${JSON.stringify(environment)}); pass -c env=staging|production`)
  }
  const problems: string[] = []
  const region = processEnv.CDK_DEFAULT_REGION || DEFAULT_REGION
  const config: GpuTierConfig = {
    ...structuredClone(DEFAULTS[environment]),
    name: environment,
    account: processEnv.CDK_DEFAULT_ACCOUNT || undefined,
    region,
    availabilityZones: undefined,
  }
  for (const key of STRING_OVERRIDES) {
    const value = context[key]
    if (value === undefined) continue
    if (typeof value === 'string' && value.length > 0) config[key] = value
    else problems.push(`${key}: must be a non-empty string`)
  }
  for (const key of NUMBER_OVERRIDES) {
    const value = context[key]
    if (value === undefined) continue
    const parsed = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN
    if (Number.isFinite(parsed)) config[key] = parsed
    else problems.push(`${key}: must be a number (got ${JSON.stringify(value)})`)
  }
  if (typeof context.availabilityZones === 'string') config.availabilityZones = context.availabilityZones.split(',').map((az) => az.trim())
  if (typeof context.alarmEmail === 'string' && context.alarmEmail !== '') config.alarms.email = context.alarmEmail
  problems.push(...validate(config))
  if (problems.length > 0) {
    throw new GpuTierConfigError(`invalid GPU tier configuration (${environment}):\n${problems.map((p) => `  ${p}`).join('\n')}`)
  }
  return config
}

export function isEnvironmentName(value: unknown): value is EnvironmentName {
  return (ENVIRONMENT_NAMES as readonly unknown[]).includes(value)
}

/** Seconds ECS waits after SIGTERM before SIGKILL. */
export function stopTimeoutS(config: GpuTierConfig): number {
  return config.service.shutdownTimeoutS + STOP_TIMEOUT_MARGIN_S
}

/**
 * ECS deregisters a task from the target group and waits this long before sending SIGTERM, so
 * requests already on their way finish: at least one full generation deadline, and never less
 * than the service's own shutdown drain.
 */
export function deregistrationDelayS(config: GpuTierConfig): number {
  return Math.max(Math.ceil(config.service.requestTimeoutMs / 1000), config.service.shutdownTimeoutS)
}

function validate(c: GpuTierConfig): string[] {
  const problems: string[] = []
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message)
  }
  const isInt = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max

  check(/^[a-z]{2}(-[a-z]+)+-\d$/.test(c.region), `region: ${JSON.stringify(c.region)} is not an AWS region name`)
  check(c.account === undefined || /^\d{12}$/.test(c.account), `account: ${JSON.stringify(c.account)} must be 12 digits`)
  const zones = c.availabilityZones ?? [undefined, undefined]
  if (c.availabilityZones) {
    check(c.availabilityZones.length >= 2, 'availabilityZones: the ALB needs at least two')
    check(c.availabilityZones.every((az) => new RegExp(`^${c.region}[a-z]$`).test(az)), `availabilityZones: ${c.availabilityZones.join(',')} must be zones of ${c.region} (e.g. ${c.region}a)`)
  }
  check(isInt(c.natGateways, 1, zones.length), `natGateways: must be an integer from 1 to ${zones.length}, the number of zones (the private subnets need egress to ECR, CloudWatch and Secrets Manager)`)

  const family = c.instanceType.split('.')[0] ?? ''
  check(/^[a-z0-9]+\.[a-z0-9]+$/.test(c.instanceType) && GPU_FAMILIES.includes(family), `instanceType: ${JSON.stringify(c.instanceType)} is not an x86 NVIDIA GPU type (${GPU_FAMILIES.join(', ')})`)
  check(isInt(c.minTasks, 0, 100), 'minTasks: must be an integer from 0 to 100')
  check(isInt(c.maxTasks, 1, 100), 'maxTasks: must be an integer from 1 to 100')
  check(c.maxTasks >= c.minTasks, `maxTasks (${c.maxTasks}) must be at least minTasks (${c.minTasks})`)
  check(c.targetInFlightPerTask > 0 && c.targetInFlightPerTask <= c.service.maxQueueImages, `targetInFlightPerTask: must be above 0 and at most service.maxQueueImages (${c.service.maxQueueImages}), or the service sheds load before it scales`)

  const arn = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate\/[0-9a-f-]{36}$/.exec(c.certificateArn)
  if (!arn) {
    problems.push(`certificateArn: ${JSON.stringify(c.certificateArn)} is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)`)
  } else if (c.certificateArn !== PLACEHOLDERS.certificateArn) {
    // An ALB can only use a certificate from its own account and region.
    check(arn[1] === c.region, `certificateArn: the certificate is in ${arn[1]}, the ALB in ${c.region}; request or import it in ${c.region}`)
    check(c.account === undefined || arn[2] === c.account, `certificateArn: the certificate belongs to account ${arn[2]}, the stack deploys to ${c.account}`)
  }
  check(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(c.domainName), `domainName: ${JSON.stringify(c.domainName)} is not a lower-case hostname`)
  check(/^([A-Za-z0-9!_.*'()-]+\/)+$/.test(c.modelPrefix), `modelPrefix: ${JSON.stringify(c.modelPrefix)} must be a key prefix like bundles/<name>/ (ending in /, no leading /)`)
  check(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(c.imageTag) && c.imageTag !== 'latest', `imageTag: ${JSON.stringify(c.imageTag)} must be a Docker tag other than latest (tags are immutable: use the git SHA)`)
  check(isInt(c.memoryReservationMiB, 1024, 1_048_576), 'memoryReservationMiB: must be an integer of at least 1024')
  check(isInt(c.healthCheckGracePeriodS, 60, 7200), 'healthCheckGracePeriodS: must be an integer from 60 to 7200 (model download and warm-up take minutes)')
  check(LOG_RETENTION_DAYS.includes(c.logRetentionDays), `logRetentionDays: ${c.logRetentionDays} is not a CloudWatch Logs retention (${LOG_RETENTION_DAYS.join(', ')})`)

  // The same ranges as the service's own schema, so the task never fails its config check at start.
  const s = c.service
  check(isInt(s.maxBatchSize, 1, 16), 'service.maxBatchSize: must be an integer from 1 to 16')
  check(isInt(s.maxQueueImages, 1, 10_000), 'service.maxQueueImages: must be an integer from 1 to 10000')
  check(isInt(s.requestTimeoutMs, 100, 600_000), 'service.requestTimeoutMs: must be an integer from 100 to 600000')
  check(isInt(s.shutdownTimeoutS, 0, MAX_STOP_TIMEOUT_S - STOP_TIMEOUT_MARGIN_S), `service.shutdownTimeoutS: must be an integer from 0 to ${MAX_STOP_TIMEOUT_S - STOP_TIMEOUT_MARGIN_S} (ECS stops a container at most ${MAX_STOP_TIMEOUT_S} s after SIGTERM)`)
  check(isInt(c.albIdleTimeoutS, 1, 4000) && c.albIdleTimeoutS * 1000 > s.requestTimeoutMs, `albIdleTimeoutS: must be an integer up to 4000 and above service.requestTimeoutMs (${s.requestTimeoutMs} ms), or the ALB cuts long generations`)

  check(c.alarms.email === undefined || /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.alarms.email), `alarmEmail: ${JSON.stringify(c.alarms.email)} is not an email address`)
  check(c.alarms.target5xxPercent > 0 && c.alarms.target5xxPercent <= 100, 'alarms.target5xxPercent: must be in (0, 100]')
  check(c.alarms.p99ResponseTimeS > 0, 'alarms.p99ResponseTimeS: must be above 0')

  if (c.account !== undefined) {
    // An account means the CDK CLI has credentials: this synthesis is about to be deployed.
    const hints = {
      certificateArn: '-c certificateArn=arn:aws:acm:<region>:<account>:certificate/<id> (an ACM certificate for the domain)',
      domainName: '-c domainName=<origin hostname, e.g. gpu.example.com>',
      imageTag: '-c imageTag=<the tag pushed to the ECR repository, e.g. the git SHA>',
    }
    const unset = {
      certificateArn: c.certificateArn === PLACEHOLDERS.certificateArn,
      domainName: c.domainName.endsWith(PLACEHOLDERS.domainSuffix),
      imageTag: c.imageTag === PLACEHOLDERS.imageTag,
    }
    for (const key of Object.keys(hints) as (keyof typeof hints)[]) {
      check(!unset[key], `${key}: still the placeholder ${JSON.stringify(c[key])}; pass ${hints[key]}`)
    }
  }
  return problems
}
