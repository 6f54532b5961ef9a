import { CfnOutput, Duration, Fn, Stack, type StackProps } from 'aws-cdk-lib'
import type * as ecr from 'aws-cdk-lib/aws-ecr'
import * as s3 from 'aws-cdk-lib/aws-s3'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import type { Construct } from 'constructs'
import { AccessLogBucket } from './constructs/access-log-bucket.ts'
import { AlarmTopic } from './constructs/alarm-topic.ts'
import { GpuAlarms } from './constructs/gpu-alarms.ts'
import { GpuCapacity } from './constructs/gpu-capacity.ts'
import { GpuDashboard } from './constructs/gpu-dashboard.ts'
import { GpuService } from './constructs/gpu-service.ts'
import { GpuTaskDefinition } from './constructs/gpu-task-definition.ts'
import { GpuNetwork } from './constructs/network.ts'
import { OriginLoadBalancer } from './constructs/origin-load-balancer.ts'
import type { GpuTierConfig } from './environments.ts'

export interface GpuTierStackProps extends StackProps {
  config: GpuTierConfig
  /** From GpuArtifactsStack. */
  repository: ecr.IRepository
  /** The model bucket's exported ARN and name (GpuArtifactsStack.modelBucketExports). */
  modelBucket: { bucketArn: string; bucketName: string }
  serviceSecret: secretsmanager.ISecret
}

/**
 * Deployments may briefly run twice the tasks (maxHealthyPercent 200), one GPU instance each, so the
 * Auto Scaling group may grow to twice maxTasks; the service's maxTasks bounds the steady state.
 */
const DEPLOYMENT_HEADROOM = 2

/**
 * The GPU tier (infra/README.md): a VPC, an ECS cluster on GPU instances
 * (capacity provider), the GPU service behind an ALB that only Cloudflare can reach, autoscaling on
 * the service's in-flight requests per task, alarms and a dashboard.
 */
export class GpuTierStack extends Stack {
  readonly #zones: string[] | undefined

  constructor(scope: Construct, id: string, props: GpuTierStackProps) {
    super(scope, id, props)
    this.#zones = props.config.availabilityZones
    const { config, repository, serviceSecret } = props
    const modelBucket = s3.Bucket.fromBucketAttributes(this, 'ModelBucket', props.modelBucket)

    const logs = new AccessLogBucket(this, 'Logs')
    const { vpc } = new GpuNetwork(this, 'Network', {
      natGateways: config.natGateways,
      flowLogBucket: logs.bucket,
    })
    const capacity = new GpuCapacity(this, 'Capacity', {
      vpc,
      instanceType: config.instanceType,
      maxInstances: config.maxTasks * DEPLOYMENT_HEADROOM,
    })
    const task = new GpuTaskDefinition(this, 'Task', { config, repository, modelBucket, serviceSecret })
    const origin = new OriginLoadBalancer(this, 'Origin', {
      vpc,
      certificateArn: config.certificateArn,
      idleTimeout: Duration.seconds(config.albIdleTimeoutS),
      accessLogs: logs.bucket,
    })
    const gpu = new GpuService(this, 'Gpu', {
      config,
      vpc,
      cluster: capacity.cluster,
      capacityProvider: capacity.capacityProvider,
      taskDefinition: task.taskDefinition,
      httpsListener: origin.httpsListener,
    })

    const { topic } = new AlarmTopic(this, 'AlarmTopic', { displayName: `SNOOPI GPU tier (${config.name})`, email: config.alarms.email })
    const { alarms } = new GpuAlarms(this, 'Alarms', { config, loadBalancer: origin.loadBalancer, targetGroup: gpu.targetGroup, topic })
    new GpuDashboard(this, 'Dashboard', { config, loadBalancer: origin.loadBalancer, targetGroup: gpu.targetGroup, service: gpu.service, alarms })

    const outputs: Record<string, [value: string, description: string]> = {
      AlbUrl: [`https://${config.domainName}`, "The edge's GPU_SERVICE_URL (a proxied Cloudflare CNAME to AlbDnsName)"],
      AlbDnsName: [origin.loadBalancer.loadBalancerDnsName, 'Target of the Cloudflare CNAME for the domain'],
      EcrRepositoryUri: [repository.repositoryUri, 'Where the GPU image is pushed'],
      ModelBucketName: [modelBucket.bucketName, `The bundle goes under s3://<bucket>/${config.modelPrefix}`],
      GpuSecretArn: [serviceSecret.secretArn, 'GPU_SERVICE_SECRET (the worker needs the same value)'],
      ClusterName: [capacity.cluster.clusterName, 'ECS cluster'],
      ServiceName: [gpu.service.serviceName, 'ECS service'],
    }
    for (const [id, [value, description]] of Object.entries(outputs)) new CfnOutput(this, id, { value, description })
  }

  /**
   * The pinned zones, or the region's first two resolved by CloudFormation at deploy time — never
   * CDK's context lookup, which needs credentials once the account is known: synthesis stays offline.
   */
  override get availabilityZones(): string[] {
    return this.#zones ?? [0, 1].map((i) => Fn.select(i, Fn.getAzs()))
  }
}
