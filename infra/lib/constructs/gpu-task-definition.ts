import { Duration, Size, Stack, Validations } from 'aws-cdk-lib'
import type * as ecr from 'aws-cdk-lib/aws-ecr'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as logs from 'aws-cdk-lib/aws-logs'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { Construct } from 'constructs'
import { stopTimeoutS, type GpuTierConfig } from '../environments.ts'
import { wildcardResourceFinding } from '../nag-findings.ts'
import { grantReadPrefix } from './model-bucket.ts'

/** The GPU service's API port (gpu-service/Dockerfile EXPOSE): /healthz, /readyz, /internal/*. */
export const GPU_SERVICE_PORT = 8788
/**
 * The GPU service's /metrics port (METRICS_PORT; the Dockerfile's second EXPOSE). Mapped so that an
 * in-VPC scraper could be let in by a security-group rule; no rule opens it today (the autoscaling
 * signal travels as EMF log lines), and the load balancer never targets it.
 */
export const GPU_METRICS_PORT = 8789
export const GPU_CONTAINER_NAME = 'gpu-service'
/** The image's cache folder (a Docker volume in the image): downloaded bundles and the built UNet. */
const MODEL_CACHE_DIR = '/var/cache/snoopi'

export interface GpuTaskDefinitionProps {
  config: GpuTierConfig
  repository: ecr.IRepository
  modelBucket: s3.IBucket
  serviceSecret: secretsmanager.ISecret
}

/**
 * The GPU service's task: one container reserving one GPU, configured through the environment the
 * service validates at start (gpu-service/src/config/service-config.ts), the HMAC secret injected by
 * ECS from Secrets Manager. awsvpc networking: the task has its own ENI and security group, so only
 * the ALB can reach port 8788 and the instance exposes nothing; /metrics listens on 8789, which no
 * security-group rule opens.
 */
export class GpuTaskDefinition extends Construct {
  readonly taskDefinition: ecs.Ec2TaskDefinition
  readonly container: ecs.ContainerDefinition
  readonly logGroup: logs.LogGroup

  constructor(scope: Construct, id: string, { config, repository, modelBucket, serviceSecret }: GpuTaskDefinitionProps) {
    super(scope, id)
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/snoopi/${config.name}/gpu-service`,
      retention: config.logRetentionDays,
    })
    this.taskDefinition = new ecs.Ec2TaskDefinition(this, 'TaskDefinition', { networkMode: ecs.NetworkMode.AWS_VPC })
    // The task role can read the one bundle prefix and nothing else.
    const bundleObjects = grantReadPrefix(modelBucket, this.taskDefinition.taskRole, config.modelPrefix)
    Validations.of(this.taskDefinition.taskRole).acknowledge({
      id: wildcardResourceFinding(this, bundleObjects),
      reason: `s3:GetObject on the objects under the one model bundle prefix (${config.modelPrefix}); the files of a bundle are not known in advance.`,
    })
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, which ECS needs to pull the image, has no resource-level permissions; the pull itself is limited to the repository.',
    })

    const readyCheck = `fetch('http://127.0.0.1:${GPU_SERVICE_PORT}/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`
    this.container = this.taskDefinition.addContainer('Container', {
      containerName: GPU_CONTAINER_NAME,
      image: ecs.ContainerImage.fromEcrRepository(repository, config.imageTag),
      gpuCount: 1,
      // Soft limit: the container may use the rest of the instance's memory (onnxruntime's arenas
      // spike while sessions are created); a hard limit would turn the spike into an OOM kill.
      memoryReservationMiB: config.memoryReservationMiB,
      portMappings: [
        { containerPort: GPU_SERVICE_PORT, protocol: ecs.Protocol.TCP, name: 'http' },
        { containerPort: GPU_METRICS_PORT, protocol: ecs.Protocol.TCP, name: 'metrics' },
      ],
      environment: {
        HOST: '0.0.0.0',
        PORT: String(GPU_SERVICE_PORT),
        METRICS_PORT: String(GPU_METRICS_PORT),
        DEVICE: 'cuda',
        MODEL_S3_URI: `s3://${modelBucket.bucketName}/${config.modelPrefix}`,
        MODEL_CACHE_DIR,
        // The S3 client reads its region from AWS_REGION (default us-east-1); ECS on EC2 does not set it.
        AWS_REGION: Stack.of(this).region,
        METRICS_EMF: '1',
        ENVIRONMENT: config.name,
        MAX_BATCH_SIZE: String(config.service.maxBatchSize),
        MAX_QUEUE_IMAGES: String(config.service.maxQueueImages),
        REQUEST_TIMEOUT_MS: String(config.service.requestTimeoutMs),
        SHUTDOWN_TIMEOUT_S: String(config.service.shutdownTimeoutS),
      },
      secrets: { GPU_SERVICE_SECRET: ecs.Secret.fromSecretsManager(serviceSecret) },
      // The image's own HEALTHCHECK (on the API port, not the metrics one), which ECS ignores unless
      // the task states it. ECS caps the start period at 300 s; the service's health check grace
      // period covers slower model loads.
      healthCheck: {
        command: ['CMD', 'node', '-e', readyCheck],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(300),
      },
      // SIGTERM → the service stops taking work and drains for SHUTDOWN_TIMEOUT_S; SIGKILL only after.
      stopTimeout: Duration.seconds(stopTimeoutS(config)),
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'gpu-service',
        // Never block the service's stdout (and so its event loop) on CloudWatch; 25 MiB buffers
        // minutes of log lines, including the EMF metric lines the autoscaling reads.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    })

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The plain environment variables are non-secret settings (host, port, device, model URI, limits); the one secret, GPU_SERVICE_SECRET, is injected from Secrets Manager.',
    })
  }
}
