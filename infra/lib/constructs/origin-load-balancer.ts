import type { Duration } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import { Construct } from 'constructs'
import { CLOUDFLARE_IPV4_RANGES, CLOUDFLARE_IPV6_RANGES } from '../cloudflare-ranges.ts'

export interface OriginLoadBalancerProps {
  vpc: ec2.IVpc
  certificateArn: string
  idleTimeout: Duration
  accessLogs: s3.IBucket
}

/** The only paths the edge calls (signed). /metrics, /readyz and /healthz stay off the internet. */
export const PUBLIC_PATH_PATTERNS = ['/internal/*']

/**
 * The GPU tier's origin: an internet-facing ALB that only Cloudflare's edge can reach (its published
 * ranges, on 443 and on 80 for the redirect), terminating TLS with the origin certificate.
 * 22 ranges × 2 ports = 44 rules, below the default quota of 60 inbound rules per family.
 */
export class OriginLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer
  readonly httpsListener: elbv2.ApplicationListener
  readonly securityGroup: ec2.SecurityGroup

  constructor(scope: Construct, id: string, { vpc, certificateArn, idleTimeout, accessLogs }: OriginLoadBalancerProps) {
    super(scope, id)
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'GPU origin ALB: HTTPS (and HTTP, redirected) from Cloudflare edge ranges only',
      // Egress is added per target (to the task security group on 8788 only).
      allowAllOutbound: false,
    })
    for (const port of [443, 80]) {
      for (const cidr of CLOUDFLARE_IPV4_RANGES) this.securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), `Cloudflare ${cidr}`)
      // Inert while the ALB is IPv4-only (Cloudflare then connects over IPv4); ready for dual-stack.
      for (const cidr of CLOUDFLARE_IPV6_RANGES) this.securityGroup.addIngressRule(ec2.Peer.ipv6(cidr), ec2.Port.tcp(port), `Cloudflare ${cidr}`)
    }

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      internetFacing: true,
      securityGroup: this.securityGroup,
      idleTimeout,
      dropInvalidHeaderFields: true,
    })
    this.loadBalancer.logAccessLogs(accessLogs, 'alb')

    this.httpsListener = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
      // TLS 1.3, and TLS 1.2 with forward-secret AEAD ciphers only.
      sslPolicy: elbv2.SslPolicy.TLS13_RES,
      // The security group above is the whole ingress policy; `open` would add 0.0.0.0/0.
      open: false,
      // Everything but the signed internal API is not found (rules forward /internal/*).
      defaultAction: elbv2.ListenerAction.fixedResponse(404, {
        contentType: 'application/json',
        messageBody: JSON.stringify({ error: { type: 'not_found', message: 'not found', code: 'not_found' } }),
      }),
    })
    this.loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443, open: false })
  }
}
