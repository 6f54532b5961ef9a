import { Duration } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import { Construct } from 'constructs'
import { deregistrationDelayS, type GpuTierConfig } from '../environments.ts'
import { serviceMetric } from '../service-metrics.ts'
import { GPU_CONTAINER_NAME, GPU_SERVICE_PORT } from './gpu-task-definition.ts'
import { PUBLIC_PATH_PATTERNS } from './origin-load-balancer.ts'
import { SleepAtZero } from './sleep-at-zero.ts'

export interface GpuServiceProps {
  config: GpuTierConfig
  vpc: ec2.IVpc
  cluster: ecs.ICluster
  capacityProvider: ecs.AsgCapacityProvider
  taskDefinition: ecs.Ec2TaskDefinition
  httpsListener: elbv2.ApplicationListener
}

/**
 * A new task needs minutes (instance boot, image pull, bundle download, warm-up) and publishes
 * InFlightRequests only once it is ready, so until then the average stays high: a scale-out
 * cooldown shorter than that would add tasks again for load the starting ones will take. One step
 * is already proportional (desired × metric / target). Scale-in waits longer still, because a
 * task removed during a lull takes as long to come back.
 */
const SCALE_OUT_COOLDOWN = Duration.minutes(5)
const SCALE_IN_COOLDOWN = Duration.minutes(15)

/**
 * The ECS service behind the ALB and its autoscaling: task count from `minTasks` to `maxTasks`,
 * tracking the Average of the service's own `InFlightRequests` (queued + running requests per
 * task) at `targetInFlightPerTask`. ECS then launches or removes GPU instances through the capacity
 * provider to fit the tasks. With `minTasks: 0`, SleepAtZero adds the way up from 0 (and a stated
 * way down to it), which target tracking cannot provide.
 */
export class GpuService extends Construct {
  readonly service: ecs.Ec2Service
  readonly targetGroup: elbv2.ApplicationTargetGroup
  readonly taskSecurityGroup: ec2.SecurityGroup
  readonly scaling: ecs.ScalableTaskCount
  /** Only with `minTasks: 0`. */
  readonly sleepAtZero: SleepAtZero | undefined

  constructor(scope: Construct, id: string, { config, vpc, cluster, capacityProvider, taskDefinition, httpsListener }: GpuServiceProps) {
    super(scope, id)
    this.taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'GPU service tasks: 8788 from the origin ALB only',
      // ECR, S3 (model bundle), Secrets Manager and CloudWatch over HTTPS, through the NAT or the S3 endpoint.
      allowAllOutbound: true,
    })

    this.service = new ecs.Ec2Service(this, 'Service', {
      cluster,
      taskDefinition,
      capacityProviderStrategies: [{ capacityProvider: capacityProvider.capacityProviderName, weight: 1 }],
      securityGroups: [this.taskSecurityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      // No desiredCount: autoscaling owns it, and a deployment must not reset it mid-traffic.
      // A task's first /readyz success needs the image pull, the bundle download and CUDA warm-up.
      healthCheckGracePeriod: Duration.seconds(config.healthCheckGracePeriodS),
      circuitBreaker: { enable: true, rollback: true },
      // New tasks start (on new instances, which the capacity provider launches) before old ones
      // stop, so even a 1-task service deploys without a gap.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      placementStrategies: [ecs.PlacementStrategy.spreadAcross(ecs.BuiltInAttributes.AVAILABILITY_ZONE)],
      enableECSManagedTags: true,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    })
    // The capacity provider must be associated with the cluster before a service may use it (and
    // stay associated until the service is gone): a dependency on the whole cluster construct,
    // which holds that association.
    this.service.node.addDependency(cluster)

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc,
      targetType: elbv2.TargetType.IP,
      port: GPU_SERVICE_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      healthCheck: {
        // 200 only once the model is loaded and warm; 503 while loading and while draining.
        path: '/readyz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      deregistrationDelay: Duration.seconds(deregistrationDelayS(config)),
      // Generations take long and vary: send each request to the task with the fewest in flight.
      loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
      targets: [this.service.loadBalancerTarget({ containerName: GPU_CONTAINER_NAME, containerPort: GPU_SERVICE_PORT })],
    })
    // Also opens 8788 from the ALB's security group to the tasks' (and only that).
    httpsListener.addTargetGroups('GpuService', {
      targetGroups: [this.targetGroup],
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns(PUBLIC_PATH_PATTERNS)],
    })

    this.scaling = this.service.autoScaleTaskCount({ minCapacity: config.minTasks, maxCapacity: config.maxTasks })
    this.scaling.scaleToTrackCustomMetric('InFlightPerTask', {
      metric: serviceMetric(config.name, 'InFlightRequests'),
      targetValue: config.targetInFlightPerTask,
      scaleOutCooldown: SCALE_OUT_COOLDOWN,
      scaleInCooldown: SCALE_IN_COOLDOWN,
    })
    this.sleepAtZero =
      config.minTasks === 0
        ? new SleepAtZero(this, 'SleepAtZero', { environment: config.name, scaling: this.scaling, loadBalancer: httpsListener.loadBalancer, targetGroup: this.targetGroup })
        : undefined
  }
}
