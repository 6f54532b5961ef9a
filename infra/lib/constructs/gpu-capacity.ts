import { Duration, Validations } from 'aws-cdk-lib'
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as ecs from 'aws-cdk-lib/aws-ecs'
import * as iam from 'aws-cdk-lib/aws-iam'
import { Construct } from 'constructs'

export interface GpuCapacityProps {
  vpc: ec2.IVpc
  instanceType: string
  /** Upper bound of GPU instances (one task each). */
  maxInstances: number
}

/**
 * Root volume: the CUDA image (~10 GB unpacked), the model cache (a bundle, plus the NASA-rewritten
 * UNet built from it) and Docker's copies of both across a deployment, with room to spare.
 */
const ROOT_VOLUME_GIB = 100

/**
 * The ECS cluster and its GPU capacity: an Auto Scaling group of GPU instances on the ECS GPU AMI,
 * handed to ECS as a capacity provider, so ECS launches instances for tasks that need a GPU (managed
 * scaling), never terminates an instance that still runs a task (managed termination protection),
 * and moves tasks off an instance before it goes (managed draining).
 */
export class GpuCapacity extends Construct {
  readonly cluster: ecs.Cluster
  readonly capacityProvider: ecs.AsgCapacityProvider
  readonly autoScalingGroup: autoscaling.AutoScalingGroup

  constructor(scope: Construct, id: string, { vpc, instanceType, maxInstances }: GpuCapacityProps) {
    super(scope, id)
    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED })

    // Tasks use awsvpc and have their own ENIs and security group; the instance itself serves nothing.
    const instanceSecurityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc,
      description: 'GPU container instances: no inbound; outbound for the ECS agent, ECR and CloudWatch',
      allowAllOutbound: true,
    })
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'ECS container instance: the agent registers with the cluster, pulls images and ships logs',
    })

    const userData = ec2.UserData.forLinux()
    userData.addCommands(
      // Tasks must not reach the instance metadata service and borrow the instance role; they get
      // their own task role through the ECS agent.
      'echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config',
      // The GPU AMI sets this too; stated here so the GPU reservation never depends on AMI defaults.
      'echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config',
      // Tags are immutable, so a cached image with the tag is the image: a task restarted on the
      // same instance skips the multi-GB pull.
      'echo ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config',
    )

    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      // The SSM parameter of the AL2023 GPU AMI (NVIDIA driver + container toolkit), resolved by
      // CloudFormation at deploy time: no lookup at synthesis.
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
      instanceType: new ec2.InstanceType(instanceType),
      userData,
      role,
      securityGroup: instanceSecurityGroup,
      requireImdsv2: true,
      // One hop: the ECS agent (host network) reaches IMDS, containers behind a bridge could not.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(ROOT_VOLUME_GIB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }),
        },
      ],
    })

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'AutoScalingGroup', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplate,
      // ECS managed scaling sets the desired count from the tasks waiting for a GPU; 0 lets it
      // remove every instance when the service is parked at 0 tasks.
      minCapacity: 0,
      maxCapacity: maxInstances,
      // Only simple scaling uses it (ECS drives a target-tracking policy); stated explicitly at
      // its default.
      cooldown: Duration.minutes(5),
    })

    this.capacityProvider = new ecs.AsgCapacityProvider(this, 'CapacityProvider', {
      autoScalingGroup: this.autoScalingGroup,
      enableManagedScaling: true,
      enableManagedTerminationProtection: true,
      enableManagedDraining: true,
      targetCapacityPercent: 100,
      // Boot + ECS agent registration on the GPU AMI before the instance counts in the metrics.
      instanceWarmupPeriod: 300,
    })
    this.cluster.addAsgCapacityProvider(this.capacityProvider)

    // The statements CDK adds for the ECS agent (Cluster.addAsgCapacityProvider).
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::ecs:Submit*]',
      reason: 'The ECS agent reports container and task state changes (ecs:SubmitContainerStateChange, SubmitTaskStateChange, SubmitAttachmentStateChanges); the statement is limited to this cluster.',
    })
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecs:DiscoverPollEndpoint and ecr:GetAuthorizationToken have no resource-level permissions; ecs:Poll and StartTelemetrySession are conditioned on this cluster. (The logs actions on * are part of the same CDK-generated agent statement.)',
    })
    Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason:
        'Instances are launched and terminated by the ECS capacity provider for tasks, visible in the ECS service events and the ASG activity history; notifying on each would bury the alarm topic.',
    })
  }
}
