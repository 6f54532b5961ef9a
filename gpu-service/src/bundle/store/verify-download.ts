import { etagMd5 } from './checksums.ts'
import type { DownloadedObject } from './download-object.ts'
import { ModelStoreError } from './model-store-error.ts'
import type { BundleObject } from './s3-listing.ts'

/** How a file was checked: against SHA256SUMS, against its ETag's MD5, or (neither possible) by size only. */
export type Verification = 'sha256' | 'md5' | 'size'

/** Which digests `verifyDownload` will need for `object`, so the download computes only those. */
export function hashesFor(object: BundleObject, sums: ReadonlyMap<string, string> | undefined): { md5: boolean; sha256: boolean } {
  const sha256 = sums?.has(object.path) ?? false
  return { sha256, md5: !sha256 && etagMd5(object.etag) !== undefined }
}

/**
 * Checks a downloaded file: its size must equal the listing's; then its SHA-256 must match
 * SHA256SUMS when that names it, else its MD5 must match a single-part ETag (unless encryption
 * makes the ETag something else). Throws a ModelStoreError naming the file.
 */
export function verifyDownload(object: BundleObject, got: DownloadedObject, sums: ReadonlyMap<string, string> | undefined): { how: Verification; note?: string } {
  const fail = (message: string) => new ModelStoreError(message, { file: object.path })
  if (got.bytes !== object.size) throw fail(`downloaded ${got.bytes} bytes, the listing says ${object.size}`)
  const expectedSha = sums?.get(object.path)
  if (expectedSha !== undefined) {
    if (got.sha256 !== expectedSha) throw fail(`SHA-256 is ${got.sha256}, SHA256SUMS says ${expectedSha}`)
    return { how: 'sha256' }
  }
  const expectedMd5 = etagMd5(object.etag)
  if (expectedMd5 === undefined) return { how: 'size', note: `ETag ${object.etag} is a multipart ETag, not verifiable by MD5; size checked only` }
  if (got.encryption) return { how: 'size', note: `encrypted with ${got.encryption}, so its ETag is not an MD5; size checked only` }
  if (got.md5 !== expectedMd5) throw fail(`MD5 is ${got.md5}, its ETag says ${expectedMd5}`)
  return { how: 'md5' }
}
