import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import { parseSha256Sums, SHA256SUMS } from './checksums.ts'
import { downloadObject } from './download-object.ts'
import { forEachLimited } from './for-each-limited.ts'
import { ModelStoreError } from './model-store-error.ts'
import { createProgress, formatMegabytes } from './progress.ts'
import type { BundleObject } from './s3-listing.ts'
import type { S3Location } from './s3-uri.ts'
import { hashesFor, verifyDownload, type Verification } from './verify-download.ts'

export interface DownloadBundleOptions {
  client: S3Client
  location: S3Location
  objects: readonly BundleObject[]
  /** Folder to download into (the staging folder). */
  dir: string
  log: (line: string) => void
  /** Parallel GETs. */
  concurrency: number
}

/** How many files each check covered. */
export type VerificationCounts = Record<Verification, number>

/**
 * Downloads and verifies every object into `dir`. SHA256SUMS, when the bundle has one, comes first:
 * it must name exactly the other files, which is checked before any large download starts. The rest
 * go largest first, so the big UNet does not start last and hold up the end.
 */
export async function downloadBundle({ client, location, objects, dir, log, concurrency }: DownloadBundleOptions): Promise<VerificationCounts> {
  const totalBytes = objects.reduce((sum, object) => sum + object.size, 0)
  const progress = createProgress(totalBytes, objects.length, log)
  const counts: VerificationCounts = { sha256: 0, md5: 0, size: 0 }
  const fetch = async (object: BundleObject, sums: ReadonlyMap<string, string> | undefined, signal?: AbortSignal) => {
    const got = await downloadObject(client, object, join(dir, object.path), {
      bucket: location.bucket,
      hashes: hashesFor(object, sums),
      ...(signal ? { signal } : {}),
      onBytes: progress.addBytes,
    })
    const { how, note } = verifyDownload(object, got, sums)
    counts[how] += 1
    if (note) log(`  ${object.path}: ${note}`)
    progress.fileDone(object.path, got.bytes)
  }

  const sumsObject = objects.find((object) => object.path === SHA256SUMS)
  let sums: Map<string, string> | undefined
  if (sumsObject) {
    await fetch(sumsObject, undefined)
    sums = parseSha256Sums(readFileSync(join(dir, SHA256SUMS), 'utf8'))
    checkCoverage(objects, sums)
  }
  const rest = objects.filter((object) => object !== sumsObject).sort((a, b) => b.size - a.size)
  await forEachLimited(rest, concurrency, (object, signal) => fetch(object, sums, signal))

  const { bytes, seconds } = progress.done()
  const how = [
    counts.sha256 && `${counts.sha256} by SHA256SUMS`,
    counts.md5 && `${counts.md5} by MD5 ETag`,
    counts.size && `${counts.size} by size only`,
  ].filter(Boolean)
  log(
    `model store: ${objects.length} files, ${formatMegabytes(bytes)} in ${seconds.toFixed(1)} s ` +
      `(${(bytes / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s); verified ${how.join(', ')}`,
  )
  return counts
}

/** SHA256SUMS must name every other file under the prefix, and nothing that is not there. */
function checkCoverage(objects: readonly BundleObject[], sums: ReadonlyMap<string, string>): void {
  const listed = new Set(objects.map((object) => object.path))
  for (const path of sums.keys()) {
    if (path !== SHA256SUMS && !listed.has(path)) throw new ModelStoreError(`${SHA256SUMS} names ${path}, which is not under the prefix`, { file: path })
  }
  for (const path of listed) {
    if (path !== SHA256SUMS && !sums.has(path)) throw new ModelStoreError(`not listed in ${SHA256SUMS}`, { file: path })
  }
}
