import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib'
import type * as ecr from 'aws-cdk-lib/aws-ecr'
import type * as s3 from 'aws-cdk-lib/aws-s3'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import type { Construct } from 'constructs'
import { AccessLogBucket } from './constructs/access-log-bucket.ts'
import { ImageRepository } from './constructs/image-repository.ts'
import { ModelBucket } from './constructs/model-bucket.ts'
import { ServiceSecret } from './constructs/service-secret.ts'
import type { GpuTierConfig } from './environments.ts'

export interface GpuArtifactsStackProps extends StackProps {
  config: GpuTierConfig
}

/**
 * What the GPU tier needs to exist before it can start, and what outlives it: the image repository,
 * the model bucket and the edge ↔ GPU secret. A stack of its own so a first deployment can go in
 * order — this stack, then `docker push` and the bundle upload, then the tier — instead of creating
 * a service whose tasks have no image or model yet (they would fail until the circuit breaker rolls
 * the whole stack back). Everything here is retained when the stack is deleted.
 */
export class GpuArtifactsStack extends Stack {
  readonly repository: ecr.IRepository
  readonly modelBucket: s3.IBucket
  readonly serviceSecret: secretsmanager.ISecret
  /**
   * The model bucket's ARN and name, exported explicitly: an `Fn::ImportValue` token in the tier
   * stack resolves to a known export name while the tier is being built, so the one IAM wildcard on
   * the bundle prefix can be acknowledged exactly (a plain cross-stack reference gets its export
   * name only at synthesis).
   */
  readonly modelBucketExports: { bucketArn: string; bucketName: string }

  constructor(scope: Construct, id: string, props: GpuArtifactsStackProps) {
    super(scope, id, props)
    const { config } = props
    const accessLogs = new AccessLogBucket(this, 'AccessLogs')
    this.repository = new ImageRepository(this, 'Images').repository
    this.modelBucket = new ModelBucket(this, 'Models', { accessLogs: accessLogs.bucket }).bucket
    this.modelBucketExports = {
      bucketArn: this.exportValue(this.modelBucket.bucketArn),
      bucketName: this.exportValue(this.modelBucket.bucketName),
    }
    this.serviceSecret = new ServiceSecret(this, 'GpuServiceSecret', {
      description: `SNOOPI ${config.name}: GPU_SERVICE_SECRET, the HMAC key shared by the edge worker and the GPU service`,
    }).secret

    new CfnOutput(this, 'EcrRepositoryUri', { value: this.repository.repositoryUri, description: 'docker push <uri>:<imageTag> before deploying the tier stack' })
    new CfnOutput(this, 'ModelBucketName', { value: this.modelBucket.bucketName, description: `upload the bundle to s3://<bucket>/${config.modelPrefix}` })
    new CfnOutput(this, 'GpuSecretArn', { value: this.serviceSecret.secretArn, description: 'GPU_SERVICE_SECRET; set the same value as the worker secret' })
  }
}
