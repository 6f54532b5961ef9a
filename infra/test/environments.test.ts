import { describe, expect, it } from 'vitest'
import { deregistrationDelayS, GpuTierConfigError, PLACEHOLDERS, resolveGpuTierConfig, stopTimeoutS, type ResolveOptions } from '../lib/environments.ts'

const OFFLINE = { processEnv: {} }
const DEPLOYING = { processEnv: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' } }
const REAL = {
  certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
  domainName: 'gpu.example.com',
  imageTag: 'abc123def456',
}

/** The message of the GpuTierConfigError that resolving throws. */
function problem(options: ResolveOptions): string {
  try {
    resolveGpuTierConfig(options)
  } catch (error) {
    expect(error).toBeInstanceOf(GpuTierConfigError)
    return (error as Error).message
  }
  throw new Error('expected a GpuTierConfigError')
}

describe('resolveGpuTierConfig', () => {
  it('defaults to staging, env-agnostic account, us-east-1, zones chosen at deploy time', () => {
    const config = resolveGpuTierConfig(OFFLINE)
    expect(config).toMatchObject({ name: 'staging', account: undefined, region: 'us-east-1', availabilityZones: undefined, instanceType: 'g5.xlarge', minTasks: 1, maxTasks: 2, natGateways: 1 })
  })

  it('production: g6.xlarge, a warm minimum of 2, a NAT per zone', () => {
    expect(resolveGpuTierConfig({ environment: 'production', ...OFFLINE })).toMatchObject({ instanceType: 'g6.xlarge', minTasks: 2, maxTasks: 8, natGateways: 2, logRetentionDays: 90 })
  })

  it('synthesises offline with the placeholders (tests, CI, npm run synth)', () => {
    const config = resolveGpuTierConfig(OFFLINE)
    expect(config.certificateArn).toBe(PLACEHOLDERS.certificateArn)
    expect(config.imageTag).toBe(PLACEHOLDERS.imageTag)
  })

  it('refuses the placeholders once an account is known (a real deployment), saying which -c to pass', () => {
    const message = problem({ environment: 'production', ...DEPLOYING })
    expect(message).toContain('invalid GPU tier configuration (production)')
    expect(message).toContain('certificateArn: still the placeholder')
    expect(message).toContain('-c certificateArn=')
    expect(message).toContain('domainName: still the placeholder')
    expect(message).toContain('imageTag: still the placeholder')
    expect(resolveGpuTierConfig({ environment: 'production', ...DEPLOYING, context: REAL })).toMatchObject({ account: '123456789012', region: 'eu-west-1', ...REAL })
  })

  it('takes overrides from context, numbers given as strings (the CLI passes strings)', () => {
    const config = resolveGpuTierConfig({ ...OFFLINE, context: { minTasks: '0', maxTasks: '3', targetInFlightPerTask: '2.5', instanceType: 'g6e.xlarge', natGateways: 2, alarmEmail: 'ops@example.com', availabilityZones: 'us-east-1c, us-east-1d' } })
    expect(config).toMatchObject({ minTasks: 0, maxTasks: 3, targetInFlightPerTask: 2.5, instanceType: 'g6e.xlarge', natGateways: 2, availabilityZones: ['us-east-1c', 'us-east-1d'] })
    expect(config.alarms.email).toBe('ops@example.com')
  })

  it('does not let one resolution change the defaults of the next', () => {
    resolveGpuTierConfig({ ...OFFLINE, context: { alarmEmail: 'ops@example.com' } })
    expect(resolveGpuTierConfig(OFFLINE).alarms.email).toBeUndefined()
  })

  it('lists every problem at once', () => {
    const message = problem({ ...OFFLINE, context: { minTasks: '5', maxTasks: 'many', instanceType: 't3.large', natGateways: '3' } })
    expect(message).toContain('maxTasks: must be a number (got "many")')
    expect(message).toContain('instanceType: "t3.large" is not an x86 NVIDIA GPU type')
    expect(message).toContain('maxTasks (2) must be at least minTasks (5)')
    expect(message).toContain('natGateways: must be an integer from 1 to 2')
  })

  it.each(['g5g.xlarge', 'g4ad.xlarge', 'm7i.large', 'g5'])('rejects %s: not an x86 NVIDIA GPU instance', (instanceType) => {
    expect(problem({ ...OFFLINE, context: { instanceType } })).toContain('instanceType')
  })

  it('rejects an unknown environment name', () => {
    expect(() => resolveGpuTierConfig({ environment: 'prod', ...OFFLINE })).toThrow(/env must be one of staging, production/)
  })

  it('requires the certificate in the ALB account and region', () => {
    const otherRegion = { ...REAL, certificateArn: REAL.certificateArn.replace('eu-west-1', 'us-east-1') }
    expect(problem({ ...DEPLOYING, context: otherRegion })).toContain('the certificate is in us-east-1, the ALB in eu-west-1')
    const otherAccount = { ...REAL, certificateArn: REAL.certificateArn.replace('123456789012', '210987654321') }
    expect(problem({ ...DEPLOYING, context: otherAccount })).toContain('belongs to account 210987654321')
    expect(problem({ ...DEPLOYING, context: { ...REAL, certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' } })).toContain('is not an ACM certificate ARN')
  })

  it('checks the model prefix, domain, tag, email and zones', () => {
    expect(problem({ ...OFFLINE, context: { modelPrefix: '/bundles/x' } })).toContain('modelPrefix')
    expect(problem({ ...OFFLINE, context: { domainName: 'https://gpu.example.com' } })).toContain('domainName')
    expect(problem({ ...OFFLINE, context: { imageTag: 'latest' } })).toContain('imageTag')
    expect(problem({ ...OFFLINE, context: { alarmEmail: 'ops' } })).toContain('alarmEmail')
    expect(problem({ ...OFFLINE, context: { availabilityZones: 'us-east-1a' } })).toContain('the ALB needs at least two')
    expect(problem({ ...OFFLINE, context: { availabilityZones: 'eu-west-1a,eu-west-1b' } })).toContain('must be zones of us-east-1')
  })
})

describe('timing derived from the service limits', () => {
  const config = resolveGpuTierConfig(OFFLINE)

  it('stops the container after the service has drained (SHUTDOWN_TIMEOUT_S + margin, ECS max 120 s)', () => {
    expect(stopTimeoutS(config)).toBe(45)
    expect(stopTimeoutS(config)).toBeGreaterThan(config.service.shutdownTimeoutS)
  })

  it('keeps deregistered targets draining for a whole request deadline', () => {
    expect(deregistrationDelayS(config)).toBe(60)
    expect(deregistrationDelayS({ ...config, service: { ...config.service, requestTimeoutMs: 10_000, shutdownTimeoutS: 30 } })).toBe(30)
  })
})
