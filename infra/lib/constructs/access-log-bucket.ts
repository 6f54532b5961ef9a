import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib'
import * as s3 from 'aws-cdk-lib/aws-s3'
import { Construct } from 'constructs'

export interface AccessLogBucketProps {
  /** Logs older than this are deleted; default 90 days. */
  expiration?: Duration
}

/**
 * A bucket that only receives AWS-delivered logs (S3 server access logs, ALB access logs, VPC flow
 * logs). SSE-S3, because S3 server access logging and ALB log delivery cannot write to SSE-KMS
 * buckets; delivery is granted by bucket policy (no ACLs).
 */
export class AccessLogBucket extends Construct {
  readonly bucket: s3.Bucket

  constructor(scope: Construct, id: string, { expiration = Duration.days(90) }: AccessLogBucketProps = {}) {
    super(scope, id)
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: false,
      lifecycleRules: [{ expiration, abortIncompleteMultipartUploadAfter: Duration.days(7) }],
      // Logs are evidence: deleting the stack must not delete them (they expire on their own).
      removalPolicy: RemovalPolicy.RETAIN,
    })
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination itself; logging its own access would log every log delivery, in a loop.',
    })
  }
}
