/**
 * The CDK feature flags this app relies on, set in code (not cdk.json) so the CDK CLI, `node
 * bin/app.ts` and the tests synthesise the same templates. Only flags that change a resource here.
 */
export const FEATURE_FLAGS: Record<string, boolean> = {
  // Log delivery (S3 server access logs, ALB, VPC flow logs) by bucket policy, not ACLs: the log
  // buckets enforce bucket-owner object ownership, which disables ACLs.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  '@aws-cdk/aws-s3:createDefaultLoggingPolicy': true,
  // Merged, deduplicated IAM statements: smaller policies, easier review.
  '@aws-cdk/aws-iam:minimizePolicies': true,
  // Secret values cannot leak into a template through a plain string by accident.
  '@aws-cdk/core:checkSecretUsage': true,
  // "arn:aws:" instead of a partition lookup where the region is known.
  '@aws-cdk/core:enablePartitionLiterals': true,
  // No ECS deployment alarms block: the circuit breaker decides rollbacks.
  '@aws-cdk/aws-ecs:removeDefaultDeploymentAlarm': true,
}
