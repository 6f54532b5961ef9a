import { ModelStoreError } from './model-store-error.ts'

export interface S3Location {
  bucket: string
  /** Key prefix, '' or ending in '/'. */
  prefix: string
}

const usage = 'MODEL_S3_URI must look like s3://bucket/prefix/'
// S3's rules for bucket names (3–63 lowercase letters, digits, dots, hyphens); they also keep the
// bucket safe to use as a folder name in the cache.
const bucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * Parses `s3://bucket/prefix/`. A missing trailing slash is added (so `…/v3` never also matches
 * `…/v3-old/`); an empty prefix means the whole bucket. Prefix segments become cache folders, so
 * empty, `.` and `..` segments are refused.
 */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri.trim())
  if (!match) throw new ModelStoreError(`${usage} (got ${JSON.stringify(uri)})`)
  const bucket = match[1] ?? ''
  if (!bucketName.test(bucket)) throw new ModelStoreError(`${usage}: ${JSON.stringify(bucket)} is not a valid bucket name`)
  let prefix = match[2] ?? ''
  if (prefix && !prefix.endsWith('/')) prefix += '/'
  const segments = prefix.split('/').slice(0, -1)
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new ModelStoreError(`${usage}: the prefix ${JSON.stringify(prefix)} has an empty, "." or ".." segment`)
  }
  return { bucket, prefix }
}

/** The URI back in its canonical form, for messages. */
export const formatS3Uri = ({ bucket, prefix }: S3Location): string => `s3://${bucket}/${prefix}`
