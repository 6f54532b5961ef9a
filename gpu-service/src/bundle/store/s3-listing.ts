import { createHash } from 'node:crypto'
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { ModelStoreError } from './model-store-error.ts'
import { formatS3Uri, type S3Location } from './s3-uri.ts'

/** One object of a bundle: its key, its path inside the bundle folder, and what the listing says about it. */
export interface BundleObject {
  key: string
  path: string
  size: number
  /** As S3 sends it, quotes included: `"<md5>"` for single-part uploads, `"<md5>-<parts>"` for multipart. */
  etag: string
}

/** Where the store keeps its own bookkeeping in a bundle folder; an upload may not use the name. */
export const COMPLETE_MARKER = '.snoopi-complete.json'

/**
 * Every object under the prefix (all ListObjectsV2 pages), sorted by path. Zero-byte "folder"
 * placeholders (keys ending in `/`, made by the S3 console) are skipped; keys that would escape the
 * bundle folder are refused.
 */
export async function listBundleObjects(client: S3Client, location: S3Location, signal?: AbortSignal): Promise<BundleObject[]> {
  const objects: BundleObject[] = []
  let ContinuationToken: string | undefined
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix, ContinuationToken }),
      signal ? { abortSignal: signal } : {},
    )
    for (const entry of page.Contents ?? []) {
      const key = entry.Key ?? ''
      if (key.endsWith('/')) continue
      objects.push({ key, path: bundlePath(key, location.prefix), size: entry.Size ?? 0, etag: entry.ETag ?? '' })
    }
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (ContinuationToken)
  if (objects.length === 0) throw new ModelStoreError(`no objects under ${formatS3Uri(location)} (is the bundle uploaded there?)`)
  return objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function bundlePath(key: string, prefix: string): string {
  const path = key.slice(prefix.length)
  const segments = path.split('/')
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new ModelStoreError(`the key ${JSON.stringify(key)} has an empty, "." or ".." segment and cannot be a file in the bundle folder`)
  }
  if (path === COMPLETE_MARKER) throw new ModelStoreError(`the name ${COMPLETE_MARKER} is reserved for the model store`, { file: path })
  return path
}

/**
 * A short hash of the listing (paths, sizes, ETags): a re-upload changes ETags or sizes, so it gets
 * its own cache folder instead of being mistaken for the cached one. 16 hex digits.
 */
export function listingHash(objects: readonly BundleObject[]): string {
  const hash = createHash('sha256')
  for (const { path, size, etag } of objects) hash.update(`${path}\0${size}\0${etag}\n`)
  return hash.digest('hex').slice(0, 16)
}
