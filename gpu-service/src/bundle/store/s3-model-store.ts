import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import { loadBundle } from '../load/model-bundle.ts'
import { isComplete, writeCompleteMarker } from './complete-marker.ts'
import { downloadBundle } from './download-bundle.ts'
import { formatMegabytes } from './progress.ts'
import { s3ClientFromEnv } from './s3-client.ts'
import { listBundleObjects, listingHash } from './s3-listing.ts'
import { formatS3Uri, parseS3Uri } from './s3-uri.ts'

export interface FetchBundleOptions {
  /** The bundle folder in S3, `s3://bucket/prefix/` (MODEL_S3_URI). */
  uri: string
  /** Local cache; the bundle lands in `<cacheDir>/<bucket>/<prefix>/<listing hash>/`. */
  cacheDir: string
  /** Default: one from the environment (s3ClientFromEnv), closed again when done. */
  client?: S3Client
  /** Default: console.log. */
  log?: (line: string) => void
  /** Parallel downloads; default 4. */
  concurrency?: number
}

/**
 * The local folder of the model bundle at `uri`, downloaded on first use. The folder is named by a
 * hash of the listing (keys, sizes, ETags), so a re-upload lands in a new folder and an unchanged one
 * is served from the cache after one LIST. Files are streamed into a staging folder inside
 * `cacheDir`, checked (sizes; SHA256SUMS or MD5 ETags; then `loadBundle`), marked complete and only
 * then renamed into place: a bundle folder that exists is whole. Any failure removes the staging
 * folder and throws a ModelStoreError (or the BundleError) naming the file.
 */
export async function fetchBundleFromS3(options: FetchBundleOptions): Promise<string> {
  const location = parseS3Uri(options.uri)
  const uri = formatS3Uri(location)
  const log = options.log ?? console.log
  const client = options.client ?? s3ClientFromEnv()
  try {
    const objects = await listBundleObjects(client, location)
    const hash = listingHash(objects)
    const cacheDir = resolve(options.cacheDir)
    const target = join(cacheDir, location.bucket, ...location.prefix.split('/').filter(Boolean), hash)
    const totalBytes = objects.reduce((sum, object) => sum + object.size, 0)
    if (isComplete(target, hash)) {
      log(`model store: ${uri} is cached in ${target} (${objects.length} files, ${formatMegabytes(totalBytes)})`)
      return target
    }

    mkdirSync(cacheDir, { recursive: true })
    removeAbandonedStaging(cacheDir, log)
    const staging = mkdtempSync(join(cacheDir, '.staging-'))
    log(`model store: downloading ${uri} (${objects.length} files, ${formatMegabytes(totalBytes)}) into ${target}`)
    try {
      const verified = await downloadBundle({ client, location, objects, dir: staging, log, concurrency: options.concurrency ?? 4 })
      loadBundle(staging)
      writeCompleteMarker(staging, { uri, listingHash: hash, completedAt: new Date().toISOString(), verified, objects })
      moveIntoPlace(staging, target, hash, log)
    } catch (error) {
      rmSync(staging, { recursive: true, force: true })
      throw error
    }
    return target
  } finally {
    if (!options.client) client.destroy()
  }
}

/** Staging folders untouched for this long belong to a download that was killed. */
const ABANDONED_AFTER_MS = 6 * 60 * 60 * 1000

/**
 * Removes staging folders left by downloads that were killed mid-way (a crash cannot run the
 * cleanup), so repeated restarts cannot fill the disk. Recent ones may belong to a concurrent
 * download and are kept.
 */
export function removeAbandonedStaging(cacheDir: string, log: (line: string) => void, now = Date.now()): void {
  for (const entry of readdirSync(cacheDir)) {
    if (!entry.startsWith('.staging-')) continue
    const path = join(cacheDir, entry)
    if (now - statSync(path).mtimeMs > ABANDONED_AFTER_MS) {
      rmSync(path, { recursive: true, force: true })
      log(`model store: removed the abandoned download ${path}`)
    }
  }
}

/**
 * Renames the finished staging folder to `target`. If another process got there first with the same
 * listing, its folder is kept and ours dropped; a marker-less leftover at `target` (not something
 * this store writes) is replaced.
 */
function moveIntoPlace(staging: string, target: string, hash: string, log: (line: string) => void): void {
  mkdirSync(dirname(target), { recursive: true })
  try {
    renameSync(staging, target)
    return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error
  }
  if (isComplete(target, hash)) {
    log(`model store: another process finished ${target} first; using it`)
    rmSync(staging, { recursive: true, force: true })
    return
  }
  log(`model store: replacing the incomplete folder ${target}`)
  rmSync(target, { recursive: true, force: true })
  renameSync(staging, target)
}
