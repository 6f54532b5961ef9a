import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as s3 from 'aws-cdk-lib/aws-s3'
import { Construct } from 'constructs'

export interface ModelBucketProps {
  /** Where the bucket's server access logs go. */
  accessLogs: s3.IBucket
}

/**
 * The model bundles (Optimum's ONNX layout, gpu-service/README.md "Models"): uploaded once per model
 * version, read by the GPU tasks at start. Versioned, so an overwritten bundle can be recovered;
 * retained when the stack goes, because re-exporting a checkpoint is hours of work.
 */
export class ModelBucket extends Construct {
  readonly bucket: s3.Bucket

  constructor(scope: Construct, id: string, { accessLogs }: ModelBucketProps) {
    super(scope, id)
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // SSE-S3: the bundles are model weights, not customer data; SSE-KMS would add a key grant to
      // every reader and a KMS request per object download for no gain in confidentiality here.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'model-bucket/',
      // Bundles are gigabytes: replaced versions are kept long enough to roll back, then dropped.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    })
  }
}

/**
 * Read-only access to one bundle prefix: list that prefix (the model store lists before it
 * downloads) and get its objects. Nothing else in the bucket, and no write. Returns the objects'
 * ARN pattern (the one wildcard resource).
 */
export function grantReadPrefix(bucket: s3.IBucket, grantee: iam.IGrantable, prefix: string): string {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    }),
  )
  const objects = bucket.arnForObjects(`${prefix}*`)
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects] }))
  return objects
}
