import { App, Stack, Validations } from 'aws-cdk-lib'
import { Annotations, Match } from 'aws-cdk-lib/assertions'
import * as s3 from 'aws-cdk-lib/aws-s3'
import { AwsSolutionsChecks } from 'cdk-nag'
import type { IConstruct } from 'constructs'
import { describe, expect, it } from 'vitest'
import { CLOUDFLARE_IPV4_RANGES, CLOUDFLARE_IPV6_RANGES } from '../lib/cloudflare-ranges.ts'
import { deregistrationDelayS, ENVIRONMENT_NAMES, type EnvironmentName } from '../lib/environments.ts'
import { SERVICE_METRICS_NAMESPACE } from '../lib/service-metrics.ts'
import { buildTestApp, onlyResource, resourcesOf, synthesise, TEST_CONTEXT, type SynthesisedGpuApp } from './synth.ts'

// One synthesis per environment, shared by every test (each takes ~2 s).
const cache = new Map<EnvironmentName, SynthesisedGpuApp>()
function synthesised(environment: EnvironmentName): SynthesisedGpuApp {
  let app = cache.get(environment)
  if (!app) {
    app = synthesise(environment)
    cache.set(environment, app)
  }
  return app
}

/** What each environment is expected to look like (the documented defaults). */
const EXPECTED = {
  staging: { instanceType: 'g5.xlarge', minTasks: 1, maxTasks: 2, natGateways: 1, logRetentionDays: 30 },
  production: { instanceType: 'g6.xlarge', minTasks: 2, maxTasks: 8, natGateways: 2, logRetentionDays: 90 },
} as const

type Json = Record<string, unknown>
const container = (app: SynthesisedGpuApp) => {
  const definitions = onlyResource(app.tierTemplate, 'AWS::ECS::TaskDefinition').properties.ContainerDefinitions as Json[]
  expect(definitions).toHaveLength(1)
  return definitions[0] as Json
}
const environmentOf = (definition: Json) => Object.fromEntries((definition.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]))
const ref = (id: string) => ({ Ref: id })

describe.each(ENVIRONMENT_NAMES)('GPU tier, %s', (environment) => {
  const expected = EXPECTED[environment]

  it('synthesises offline: no context lookups, no construct errors', () => {
    const app = synthesised(environment)
    expect(app.missingContext).toEqual([])
    for (const stack of [app.artifacts, app.tier]) {
      expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([])
    }
    expect(app.config).toMatchObject({ ...expected, name: environment })
  })

  describe('task definition', () => {
    it('reserves one GPU, on EC2 with awsvpc networking, port 8788 (and 8789 for /metrics), a memory reservation', () => {
      const app = synthesised(environment)
      const { properties } = onlyResource(app.tierTemplate, 'AWS::ECS::TaskDefinition')
      expect(properties.NetworkMode).toBe('awsvpc')
      expect(properties.RequiresCompatibilities).toEqual(['EC2'])
      const c = container(app)
      expect(c.ResourceRequirements).toEqual([{ Type: 'GPU', Value: '1' }])
      expect(c.MemoryReservation).toBe(app.config.memoryReservationMiB)
      expect(c.PortMappings).toEqual([
        expect.objectContaining({ ContainerPort: 8788, Protocol: 'tcp', Name: 'http' }),
        expect.objectContaining({ ContainerPort: 8789, Protocol: 'tcp', Name: 'metrics' }),
      ])
      expect(c.Essential).toBe(true)
    })

    it('checks /readyz, stops later than the service drains, logs to CloudWatch with a retention', () => {
      const app = synthesised(environment)
      const c = container(app)
      const healthCheck = c.HealthCheck as { Command: string[]; StartPeriod: number }
      expect(healthCheck.Command.join(' ')).toContain('http://127.0.0.1:8788/readyz')
      expect(healthCheck.StartPeriod).toBe(300)
      expect(c.StopTimeout).toBeGreaterThan(app.config.service.shutdownTimeoutS)
      expect(c.StopTimeout).toBeLessThanOrEqual(120)
      const log = c.LogConfiguration as { LogDriver: string; Options: Json }
      expect(log.LogDriver).toBe('awslogs')
      const group = onlyResource(app.tierTemplate, 'AWS::Logs::LogGroup')
      expect(log.Options['awslogs-group']).toEqual(ref(group.id))
      expect(group.properties.RetentionInDays).toBe(expected.logRetentionDays)
    })

    it('configures the service through its environment, with the EMF metrics on', () => {
      const app = synthesised(environment)
      const env = environmentOf(container(app))
      expect(env).toMatchObject({
        HOST: '0.0.0.0',
        PORT: '8788',
        METRICS_PORT: '8789',
        DEVICE: 'cuda',
        MODEL_CACHE_DIR: '/var/cache/snoopi',
        METRICS_EMF: '1',
        ENVIRONMENT: environment,
        AWS_REGION: app.config.region,
        MAX_BATCH_SIZE: String(app.config.service.maxBatchSize),
        MAX_QUEUE_IMAGES: String(app.config.service.maxQueueImages),
        REQUEST_TIMEOUT_MS: String(app.config.service.requestTimeoutMs),
        SHUTDOWN_TIMEOUT_S: String(app.config.service.shutdownTimeoutS),
      })
      // s3://<the model bucket>/<prefix>: the bucket name is the artifacts stack's export.
      const uri = env.MODEL_S3_URI as { 'Fn::Join': [string, unknown[]] }
      const [, parts] = uri['Fn::Join']
      expect(parts[0]).toBe('s3://')
      expect(parts[2]).toBe(`/${app.config.modelPrefix}`)
      const exported = exportedValue(app, parts[1])
      expect(exported).toEqual(ref(onlyResource(app.artifactsTemplate, 'AWS::S3::Bucket', isModelBucket).id))
    })

    it('injects GPU_SERVICE_SECRET from Secrets Manager, never as a plain variable', () => {
      const app = synthesised(environment)
      const c = container(app)
      const env = environmentOf(c)
      expect(Object.keys(env)).not.toContain('GPU_SERVICE_SECRET')
      expect(Object.keys(env).filter((name) => /SECRET|TOKEN|PASSWORD|KEY/.test(name))).toEqual([])
      const secrets = c.Secrets as { Name: string; ValueFrom: unknown }[]
      expect(secrets.map((s) => s.Name)).toEqual(['GPU_SERVICE_SECRET'])
      const secret = onlyResource(app.artifactsTemplate, 'AWS::SecretsManager::Secret')
      expect(exportedValue(app, secrets[0]?.ValueFrom)).toEqual(ref(secret.id))
    })

    it('runs the image tag from the config, from the artifacts stack repository', () => {
      const app = synthesised(environment)
      const image = JSON.stringify(container(app).Image)
      expect(image).toContain(`:${TEST_CONTEXT.imageTag}`)
      expect(image).toContain('Fn::ImportValue')
    })
  })

  describe('GPU capacity', () => {
    it('launches the configured GPU type from the AL2023 GPU ECS AMI, IMDSv2 only, encrypted 100 GiB root', () => {
      const app = synthesised(environment)
      const data = onlyResource(app.tierTemplate, 'AWS::EC2::LaunchTemplate').properties.LaunchTemplateData as Json
      expect(data.InstanceType).toBe(expected.instanceType)
      expect(data.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 })
      expect(data.BlockDeviceMappings).toEqual([{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 100, DeleteOnTermination: true } }])
      // The AMI is a CloudFormation SSM parameter (resolved at deploy time), the GPU variant.
      const parameterName = (data.ImageId as { Ref: string }).Ref
      const parameter = (app.tierTemplate.toJSON() as { Parameters: Record<string, { Type: string; Default: string }> }).Parameters[parameterName]
      expect(parameter?.Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>')
      expect(parameter?.Default).toBe('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id')
      const userData = JSON.stringify(data.UserData)
      expect(userData).toContain('ECS_AWSVPC_BLOCK_IMDS=true')
      expect(userData).toContain('ECS_CLUSTER=')
    })

    it('is an Auto Scaling group in the private subnets, handed to ECS with managed scaling, termination protection and draining', () => {
      const app = synthesised(environment)
      const asg = onlyResource(app.tierTemplate, 'AWS::AutoScaling::AutoScalingGroup')
      expect(asg.properties).toMatchObject({ MinSize: '0', MaxSize: String(expected.maxTasks * 2), NewInstancesProtectedFromScaleIn: true })
      const privateSubnets = Object.entries(resourcesOf(app.tierTemplate, 'AWS::EC2::Subnet'))
        .filter(([, s]) => s.Properties?.MapPublicIpOnLaunch === false && JSON.stringify(s.Properties?.Tags).includes('Private'))
        .map(([id]) => ref(id))
      expect(asg.properties.VPCZoneIdentifier).toEqual(privateSubnets)
      const provider = onlyResource(app.tierTemplate, 'AWS::ECS::CapacityProvider')
      expect(provider.properties.AutoScalingGroupProvider).toEqual({
        AutoScalingGroupArn: ref(asg.id),
        ManagedScaling: { Status: 'ENABLED', TargetCapacity: 100, InstanceWarmupPeriod: 300 },
        ManagedTerminationProtection: 'ENABLED',
        ManagedDraining: 'ENABLED',
      })
      const association = onlyResource(app.tierTemplate, 'AWS::ECS::ClusterCapacityProviderAssociations')
      expect(association.properties.CapacityProviders).toEqual([ref(provider.id)])
    })
  })

  describe('ECS service and autoscaling', () => {
    it('uses the capacity provider, a 600 s grace period, a rolling circuit breaker and 100/200 % deployments', () => {
      const app = synthesised(environment)
      const service = onlyResource(app.tierTemplate, 'AWS::ECS::Service')
      const provider = onlyResource(app.tierTemplate, 'AWS::ECS::CapacityProvider')
      expect(service.properties).toMatchObject({
        CapacityProviderStrategy: [{ CapacityProvider: ref(provider.id), Weight: 1 }],
        HealthCheckGracePeriodSeconds: 600,
        DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100, MaximumPercent: 200 },
      })
      expect(service.properties.LaunchType).toBeUndefined()
      // Autoscaling owns the count; a deployment must not reset it.
      expect(service.properties.DesiredCount).toBeUndefined()
      // Created after the capacity provider is associated with the cluster.
      expect(service.dependsOn).toContain(onlyResource(app.tierTemplate, 'AWS::ECS::ClusterCapacityProviderAssociations').id)
    })

    it(`scales ${expected.minTasks}–${expected.maxTasks} tasks on the Average of InFlightRequests per task`, () => {
      const app = synthesised(environment)
      const target = onlyResource(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalableTarget')
      expect(target.properties).toMatchObject({ MinCapacity: expected.minTasks, MaxCapacity: expected.maxTasks, ScalableDimension: 'ecs:service:DesiredCount' })
      const policy = onlyResource(app.tierTemplate, 'AWS::ApplicationAutoScaling::ScalingPolicy')
      expect(policy.properties.PolicyType).toBe('TargetTrackingScaling')
      const config = policy.properties.TargetTrackingScalingPolicyConfiguration as { ScaleInCooldown: number; ScaleOutCooldown: number }
      expect(config).toMatchObject({
        TargetValue: app.config.targetInFlightPerTask,
        CustomizedMetricSpecification: {
          Namespace: SERVICE_METRICS_NAMESPACE,
          MetricName: 'InFlightRequests',
          Statistic: 'Average',
          Dimensions: [{ Name: 'Environment', Value: environment }],
        },
      })
      expect(SERVICE_METRICS_NAMESPACE).toBe('SNOOPI/GpuService')
      expect(config.ScaleInCooldown).toBeGreaterThan(config.ScaleOutCooldown)
    })
  })

  describe('load balancer', () => {
    it('health-checks /readyz on IP targets, drains at least a request timeout and the shutdown time', () => {
      const app = synthesised(environment)
      const tg = onlyResource(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup').properties
      expect(tg).toMatchObject({ HealthCheckPath: '/readyz', Matcher: { HttpCode: '200' }, TargetType: 'ip', Port: 8788, Protocol: 'HTTP', HealthyThresholdCount: 2, HealthCheckIntervalSeconds: 15 })
      const attributes = Object.fromEntries((tg.TargetGroupAttributes as { Key: string; Value: string }[]).map((a) => [a.Key, a.Value]))
      const delay = Number(attributes['deregistration_delay.timeout_seconds'])
      expect(delay).toBe(deregistrationDelayS(app.config))
      expect(delay).toBeGreaterThanOrEqual(app.config.service.shutdownTimeoutS)
      expect(delay * 1000).toBeGreaterThanOrEqual(app.config.service.requestTimeoutMs)
      expect(attributes['load_balancing.algorithm.type']).toBe('least_outstanding_requests')
    })

    it('is internet-facing with access logs and an idle timeout above the longest generation', () => {
      const app = synthesised(environment)
      const alb = onlyResource(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::LoadBalancer').properties
      expect(alb.Scheme).toBe('internet-facing')
      const attributes = Object.fromEntries((alb.LoadBalancerAttributes as { Key: string; Value: unknown }[]).map((a) => [a.Key, a.Value]))
      expect(Number(attributes['idle_timeout.timeout_seconds']) * 1000).toBeGreaterThan(app.config.service.requestTimeoutMs)
      expect(attributes['access_logs.s3.enabled']).toBe('true')
      expect(attributes['routing.http.drop_invalid_header_fields.enabled']).toBe('true')
    })

    it('terminates HTTPS with the configured certificate and a TLS 1.2+/1.3 policy, redirects HTTP', () => {
      const app = synthesised(environment)
      const listeners = Object.values(resourcesOf(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties as Json)
      expect(listeners).toHaveLength(2)
      const https = listeners.find((l) => l.Protocol === 'HTTPS')
      expect(https).toMatchObject({ Port: 443, Certificates: [{ CertificateArn: TEST_CONTEXT.certificateArn }], SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06' })
      const http = listeners.find((l) => l.Protocol === 'HTTP')
      expect(http).toMatchObject({ Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] })
    })

    it('forwards only the signed /internal/* API; /metrics, /readyz and the rest are 404', () => {
      const app = synthesised(environment)
      const https = Object.values(resourcesOf(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::Listener')).find((l) => l.Properties?.Protocol === 'HTTPS')
      const [defaultAction] = https?.Properties?.DefaultActions as { Type: string; FixedResponseConfig?: { StatusCode: string } }[]
      expect(defaultAction?.Type).toBe('fixed-response')
      expect(defaultAction?.FixedResponseConfig?.StatusCode).toBe('404')
      const rule = onlyResource(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::ListenerRule').properties
      expect(rule.Conditions).toEqual([{ Field: 'path-pattern', PathPatternConfig: { Values: ['/internal/*'] } }])
      expect(rule.Actions).toEqual([{ Type: 'forward', TargetGroupArn: ref(onlyResource(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup').id) }])
    })
  })

  describe('security groups', () => {
    it('lets only Cloudflare reach the ALB: one rule per published range on 443 (and on 80 for the redirect)', () => {
      const app = synthesised(environment)
      const albGroupId = securityGroupOf(app, 'AWS::ElasticLoadBalancingV2::LoadBalancer')
      const rules = (resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroup')[albGroupId]?.Properties?.SecurityGroupIngress ?? []) as Json[]
      const onPort = (port: number) => rules.filter((r) => r.FromPort === port && r.ToPort === port)
      const sources = (list: Json[]) => list.map((r) => r.CidrIp ?? r.CidrIpv6).sort()
      const cloudflare = [...CLOUDFLARE_IPV4_RANGES, ...CLOUDFLARE_IPV6_RANGES].sort()
      expect(onPort(443)).toHaveLength(cloudflare.length)
      expect(cloudflare).toHaveLength(22)
      expect(sources(onPort(443))).toEqual(cloudflare)
      expect(sources(onPort(80))).toEqual(cloudflare)
      expect(rules).toHaveLength(2 * cloudflare.length)
      // Nothing else may add ingress to the ALB's group.
      const extra = Object.values(resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroupIngress')).filter((r) => JSON.stringify(r.Properties?.GroupId).includes(albGroupId))
      expect(extra).toEqual([])
    })

    it('opens nothing to the whole internet anywhere', () => {
      const app = synthesised(environment)
      const ingress = [
        ...Object.values(resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroup')).flatMap((g) => (g.Properties?.SecurityGroupIngress ?? []) as Json[]),
        ...Object.values(resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties as Json),
      ]
      expect(ingress.filter((r) => r.CidrIp === '0.0.0.0/0' || r.CidrIpv6 === '::/0')).toEqual([])
    })

    it('lets only the ALB reach the tasks, on 8788; the instances accept nothing', () => {
      const app = synthesised(environment)
      const albGroupId = securityGroupOf(app, 'AWS::ElasticLoadBalancingV2::LoadBalancer')
      const taskGroupId = ((onlyResource(app.tierTemplate, 'AWS::ECS::Service').properties.NetworkConfiguration as { AwsvpcConfiguration: { SecurityGroups: { 'Fn::GetAtt': [string] }[] } })
        .AwsvpcConfiguration.SecurityGroups[0] as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]
      const groups = resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroup')
      expect(groups[taskGroupId]?.Properties?.SecurityGroupIngress ?? []).toEqual([])
      const toTasks = Object.values(resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroupIngress'))
        .map((r) => r.Properties as Json)
        .filter((r) => JSON.stringify(r.GroupId).includes(taskGroupId))
      expect(toTasks).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 8788, ToPort: 8788, SourceSecurityGroupId: { 'Fn::GetAtt': [albGroupId, 'GroupId'] } })])
      // /metrics (8789) is open to no one, and the load balancer targets only the API port.
      expect(JSON.stringify(resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroupIngress'))).not.toMatch(/"(FromPort|ToPort)":8789/)
      expect(onlyResource(app.tierTemplate, 'AWS::ElasticLoadBalancingV2::TargetGroup').properties.Port).toBe(8788)
      const instanceGroupId = ((onlyResource(app.tierTemplate, 'AWS::EC2::LaunchTemplate').properties.LaunchTemplateData as { SecurityGroupIds: { 'Fn::GetAtt': [string] }[] }).SecurityGroupIds[0] as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]
      expect(groups[instanceGroupId]?.Properties?.SecurityGroupIngress ?? []).toEqual([])
      expect(JSON.stringify(resourcesOf(app.tierTemplate, 'AWS::EC2::SecurityGroupIngress'))).not.toContain(instanceGroupId)
    })
  })

  describe('IAM', () => {
    it('gives the task role read-only access to the bundle prefix, and nothing else', () => {
      const app = synthesised(environment)
      const taskRoleId = (onlyResource(app.tierTemplate, 'AWS::ECS::TaskDefinition').properties.TaskRoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]
      const policies = Object.values(resourcesOf(app.tierTemplate, 'AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties?.Roles) === JSON.stringify([ref(taskRoleId)]))
      expect(policies).toHaveLength(1)
      const role = resourcesOf(app.tierTemplate, 'AWS::IAM::Role')[taskRoleId]?.Properties ?? {}
      expect(role.ManagedPolicyArns).toBeUndefined()
      expect(role.Policies).toBeUndefined()
      const statements = (policies[0]?.Properties?.PolicyDocument as { Statement: Json[] }).Statement
      expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual(['s3:GetObject', 's3:ListBucket'])
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow')
        expect([statement.Resource].flat()).not.toContain('*')
      }
      const list = statements.find((s) => s.Action === 's3:ListBucket')
      expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': [`${app.config.modelPrefix}*`] } })
      const get = statements.find((s) => s.Action === 's3:GetObject')
      expect(JSON.stringify(get?.Resource)).toContain(`/${app.config.modelPrefix}*`)
    })

    it('lets the execution role pull from the repository and read the one secret', () => {
      const app = synthesised(environment)
      const executionRoleId = (onlyResource(app.tierTemplate, 'AWS::ECS::TaskDefinition').properties.ExecutionRoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]
      const policy = Object.values(resourcesOf(app.tierTemplate, 'AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties?.Roles) === JSON.stringify([ref(executionRoleId)]))
      const statements = (policy?.Properties?.PolicyDocument as { Statement: Json[] }).Statement
      const byAction = (action: string) => statements.find((s) => [s.Action].flat().includes(action))
      expect(exportedValue(app, byAction('secretsmanager:GetSecretValue')?.Resource)).toEqual(ref(onlyResource(app.artifactsTemplate, 'AWS::SecretsManager::Secret').id))
      expect(exportedValue(app, byAction('ecr:BatchGetImage')?.Resource)).toEqual({ 'Fn::GetAtt': [onlyResource(app.artifactsTemplate, 'AWS::ECR::Repository').id, 'Arn'] })
      // GetAuthorizationToken has no resource-level permission; it is the only statement on *.
      expect(statements.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual(['ecr:GetAuthorizationToken'])
    })
  })

  describe('artifacts stack', () => {
    it('keeps model bundles in a versioned, encrypted, private, TLS-only, logged, retained bucket', () => {
      const app = synthesised(environment)
      const bucket = onlyResource(app.artifactsTemplate, 'AWS::S3::Bucket', isModelBucket)
      expect(bucket.properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: ref(onlyResource(app.artifactsTemplate, 'AWS::S3::Bucket', (p) => !isModelBucket(p)).id) },
      })
      expect(bucket.deletionPolicy).toBe('Retain')
      const policy = Object.values(resourcesOf(app.artifactsTemplate, 'AWS::S3::BucketPolicy')).find((p) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify(ref(bucket.id)))
      expect((policy?.Properties?.PolicyDocument as { Statement: Json[] }).Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      )
    })

    it('keeps images in a scanned, immutable-tag repository with a lifecycle policy', () => {
      const app = synthesised(environment)
      const repository = onlyResource(app.artifactsTemplate, 'AWS::ECR::Repository')
      expect(repository.properties).toMatchObject({ ImageScanningConfiguration: { ScanOnPush: true }, ImageTagMutability: 'IMMUTABLE' })
      const rules = JSON.parse((repository.properties.LifecyclePolicy as { LifecyclePolicyText: string }).LifecyclePolicyText) as { rules: unknown[] }
      expect(rules.rules.length).toBeGreaterThan(0)
      expect(repository.deletionPolicy).toBe('Retain')
    })

    it('generates the shared secret as 64 hex characters', () => {
      const app = synthesised(environment)
      const secret = onlyResource(app.artifactsTemplate, 'AWS::SecretsManager::Secret')
      const spec = secret.properties.GenerateSecretString as { PasswordLength: number; ExcludeCharacters: string; ExcludeUppercase: boolean; ExcludePunctuation: boolean; IncludeSpace: boolean }
      expect(spec.PasswordLength).toBe(64)
      // What Secrets Manager can still pick from: lower-case letters and digits, minus the exclusions.
      expect(spec).toMatchObject({ ExcludeUppercase: true, ExcludePunctuation: true, IncludeSpace: false })
      const alphabet = [...'abcdefghijklmnopqrstuvwxyz0123456789'].filter((ch) => !spec.ExcludeCharacters.includes(ch)).join('')
      expect(alphabet).toBe('abcdef0123456789')
      expect(secret.deletionPolicy).toBe('Retain')
    })
  })

  describe('network', () => {
    it(`spans two AZs with public and private subnets, ${expected.natGateways} NAT gateway(s), an S3 endpoint and flow logs`, () => {
      const app = synthesised(environment)
      app.tierTemplate.resourceCountIs('AWS::EC2::Subnet', 4)
      app.tierTemplate.resourceCountIs('AWS::EC2::NatGateway', expected.natGateways)
      // The region's first two zones, chosen by CloudFormation at deploy time (no lookup, no hard-coding).
      const azs = new Set(Object.values(resourcesOf(app.tierTemplate, 'AWS::EC2::Subnet')).map((s) => JSON.stringify(s.Properties?.AvailabilityZone)))
      expect([...azs].sort()).toEqual([0, 1].map((i) => JSON.stringify({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })))
      expect(JSON.stringify(onlyResource(app.tierTemplate, 'AWS::EC2::VPCEndpoint').properties.ServiceName)).toContain('.s3')
      expect(onlyResource(app.tierTemplate, 'AWS::EC2::FlowLog').properties).toMatchObject({ TrafficType: 'ALL', LogDestinationType: 's3' })
    })
  })

  describe('alarms and dashboard', () => {
    it('alarms on target 5xx rate, p99 latency, queue saturation, unhealthy and missing targets, to an encrypted topic', () => {
      const app = synthesised(environment)
      const topic = onlyResource(app.tierTemplate, 'AWS::SNS::Topic')
      expect(topic.properties.KmsMasterKeyId).toBeDefined()
      const alarms = Object.values(resourcesOf(app.tierTemplate, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties as Json)
      expect(alarms).toHaveLength(5)
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual([ref(topic.id)])
        expect(alarm.OKActions).toEqual([ref(topic.id)])
      }
      const text = alarms.map((a) => JSON.stringify(a))
      expect(text.some((a) => a.includes('HTTPCode_Target_5XX_Count') && a.includes('RequestCount'))).toBe(true)
      expect(alarms).toContainEqual(expect.objectContaining({ MetricName: 'TargetResponseTime', ExtendedStatistic: 'p99', Threshold: app.config.alarms.p99ResponseTimeS }))
      expect(alarms).toContainEqual(
        expect.objectContaining({ Namespace: SERVICE_METRICS_NAMESPACE, MetricName: 'QueueFullErrors', Statistic: 'Sum', Threshold: 0, EvaluationPeriods: 3, Dimensions: [{ Name: 'Environment', Value: environment }] }),
      )
      expect(alarms).toContainEqual(expect.objectContaining({ MetricName: 'UnHealthyHostCount', Statistic: 'Minimum' }))
      expect(alarms).toContainEqual(expect.objectContaining({ MetricName: 'HealthyHostCount', ComparisonOperator: 'LessThanThreshold', Threshold: 1 }))
    })

    it('has a dashboard with the autoscaling signal and the ALB view', () => {
      const app = synthesised(environment)
      const body = JSON.stringify(onlyResource(app.tierTemplate, 'AWS::CloudWatch::Dashboard').properties.DashboardBody)
      for (const metric of ['InFlightRequests', 'QueueDepthImages', 'ImagesGenerated', 'QueueFullErrors', 'TargetResponseTime', 'HTTPCode_Target_5XX_Count', 'UnHealthyHostCount']) {
        expect(body).toContain(metric)
      }
    })
  })

  it('outputs what the deploy needs', () => {
    const app = synthesised(environment)
    const outputs = app.tierTemplate.toJSON() as { Outputs: Record<string, { Value: unknown }> }
    const names = Object.keys(outputs.Outputs)
    for (const name of ['AlbUrl', 'AlbDnsName', 'EcrRepositoryUri', 'ModelBucketName', 'GpuSecretArn', 'ClusterName', 'ServiceName']) expect(names).toContain(name)
    expect(outputs.Outputs.AlbUrl?.Value).toBe(`https://${TEST_CONTEXT.domainName}`)
    expect(app.tier.stackName).toBe(`SnoopiGpuTier-${environment}`)
    expect(app.artifacts.stackName).toBe(`SnoopiGpuArtifacts-${environment}`)
    expect(app.tier.dependencies).toContain(app.artifacts)
  })

  describe('cdk-nag (AWS Solutions)', () => {
    it('reports no unacknowledged finding, error or warning', () => {
      const app = synthesised(environment)
      const report = new AwsSolutionsChecks().validateScope(app.app)
      const findings = report.violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)
      expect(findings).toEqual([])
    })

    it('acknowledges only the expected rules, each with a reason', () => {
      const app = synthesised(environment)
      const all = acknowledgements(app.app)
      for (const { id, reason } of all) expect(reason.trim().length, `reason for ${id}`).toBeGreaterThan(40)
      // (CDK itself acknowledges some of its built-in CloudFormation-Validate rules; only ours here.)
      const acknowledged = all.filter((a) => a.id.startsWith('AwsSolutions-'))
      expect(acknowledged.map((a) => `${a.path} ${a.id.replace(/\[Resource::.*\/bundles\/.*\]$/, '[Resource::<bundle prefix>]')}`).sort()).toEqual(
        [
          `SnoopiGpuArtifacts-${environment}/AccessLogs/Bucket AwsSolutions-S1`,
          `SnoopiGpuArtifacts-${environment}/GpuServiceSecret/Secret AwsSolutions-SMG4`,
          `SnoopiGpuTier-${environment}/Logs/Bucket AwsSolutions-S1`,
          `SnoopiGpuTier-${environment}/Capacity/AutoScalingGroup AwsSolutions-AS3`,
          `SnoopiGpuTier-${environment}/Capacity/InstanceRole AwsSolutions-IAM5[Action::ecs:Submit*]`,
          `SnoopiGpuTier-${environment}/Capacity/InstanceRole AwsSolutions-IAM5[Resource::*]`,
          `SnoopiGpuTier-${environment}/Task/TaskDefinition AwsSolutions-ECS2`,
          `SnoopiGpuTier-${environment}/Task/TaskDefinition/ExecutionRole AwsSolutions-IAM5[Resource::*]`,
          `SnoopiGpuTier-${environment}/Task/TaskDefinition/TaskRole AwsSolutions-IAM5[Resource::<bundle prefix>]`,
        ].sort(),
      )
    })
  })
})

describe('cdk-nag wiring', () => {
  it('the checks fire on a non-compliant resource (a bucket without TLS enforcement or logs)', () => {
    const app = new App()
    new s3.Bucket(new Stack(app, 'Probe'), 'Bucket')
    const rules = new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName)
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']))
  })

  it('the app fails synthesis on an unacknowledged finding', () => {
    const app = buildTestApp('staging')
    new s3.Bucket(app.tier, 'NonCompliant')
    expect(() => app.app.synth()).toThrow(/AwsSolutions-S10/)
  })
})

/** The value an `Fn::ImportValue` in the tier stack imports, looked up in the artifacts stack's exports. */
function exportedValue(app: SynthesisedGpuApp, token: unknown): unknown {
  const name = (token as { 'Fn::ImportValue'?: string })['Fn::ImportValue']
  expect(name, `expected an Fn::ImportValue, got ${JSON.stringify(token)}`).toBeTypeOf('string')
  const outputs = (app.artifactsTemplate.toJSON() as { Outputs: Record<string, { Value: unknown; Export?: { Name: string } }> }).Outputs
  return Object.values(outputs).find((o) => o.Export?.Name === name)?.Value
}

function isModelBucket(properties: Json): boolean {
  return (properties.VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled'
}

/** The logical id of the (first) security group of the only resource of a type. */
function securityGroupOf(app: SynthesisedGpuApp, type: string): string {
  const groups = onlyResource(app.tierTemplate, type).properties.SecurityGroups as { 'Fn::GetAtt': [string, string] }[]
  return (groups[0] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
}

/** Every `Validations.of(x).acknowledge(...)` in the app: where, which rule, why. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      // Stored as `Annotation::<id>` (an id without a plugin prefix); cdk-nag strips the prefix too.
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason }))),
  )
}
