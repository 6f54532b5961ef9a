import { Stack } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import { Construct } from 'constructs'

export interface GpuNetworkProps {
  natGateways: number
  /** Where VPC flow logs go. */
  flowLogBucket: s3.IBucket
}

/**
 * The VPC: public subnets for the ALB and the NAT gateways, private subnets for the GPU instances
 * and their tasks (no public IPs anywhere on the compute side).
 */
export class GpuNetwork extends Construct {
  readonly vpc: ec2.Vpc

  /** Spans the stack's availability zones (GpuTierStack chooses them). */
  constructor(scope: Construct, id: string, { natGateways, flowLogBucket }: GpuNetworkProps) {
    super(scope, id)
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      availabilityZones: Stack.of(this).availabilityZones,
      natGateways,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        // /20: awsvpc gives every task its own ENI and address.
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // ECR serves image layers from S3, and the model bundle is in S3: gigabytes per new task that
      // would otherwise pass the NAT gateway, which charges per GB. The gateway endpoint is free.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        All: { destination: ec2.FlowLogDestination.toS3(flowLogBucket, 'vpc-flow-logs/'), trafficType: ec2.FlowLogTrafficType.ALL },
      },
    })
  }
}
