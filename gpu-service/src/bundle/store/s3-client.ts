import { S3Client } from '@aws-sdk/client-s3'

/**
 * An S3 client configured from the environment: region from AWS_REGION (default us-east-1);
 * AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, points it at an S3-compatible server (MinIO, R2,
 * s3rver…), which then gets path-style addressing since most of them do not serve bucket subdomains.
 * Credentials come from the SDK's default chain (env, profile, instance role).
 */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
  return new S3Client({ region: env.AWS_REGION || 'us-east-1', ...(endpoint ? { endpoint, forcePathStyle: true } : {}) })
}
