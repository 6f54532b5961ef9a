import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { COMPLETE_MARKER, type BundleObject } from './s3-listing.ts'
import type { VerificationCounts } from './download-bundle.ts'

export interface CompleteMarker {
  uri: string
  listingHash: string
  completedAt: string
  verified: VerificationCounts
  objects: readonly BundleObject[]
}

const markerSchema = z.looseObject({ listingHash: z.string() })

/**
 * Written as the last file of a verified download, before the folder is renamed into place: a
 * folder with a marker for `listingHash` is a complete bundle of that listing.
 */
export function writeCompleteMarker(dir: string, marker: CompleteMarker): void {
  writeFileSync(join(dir, COMPLETE_MARKER), `${JSON.stringify(marker, null, 2)}\n`)
}

/** Whether `dir` holds a complete download of the listing with this hash. */
export function isComplete(dir: string, listingHash: string): boolean {
  const path = join(dir, COMPLETE_MARKER)
  if (!existsSync(path)) return false
  try {
    const parsed = markerSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')))
    return parsed.success && parsed.data.listingHash === listingHash
  } catch {
    return false
  }
}
