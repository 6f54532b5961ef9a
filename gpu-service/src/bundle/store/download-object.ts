import { createHash } from 'node:crypto'
import { createWriteStream, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GetObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3'
import { ModelStoreError } from './model-store-error.ts'
import type { BundleObject } from './s3-listing.ts'

export interface DownloadedObject {
  bytes: number
  /** Hex digests of the bytes written, for the algorithms asked for. */
  md5?: string
  sha256?: string
  /**
   * Set when the object is encrypted with SSE-KMS, DSSE-KMS or a customer key: S3's ETag is then not
   * the MD5 of the bytes even for a single-part upload.
   */
  encryption?: string
}

export interface DownloadOptions {
  bucket: string
  hashes: { md5: boolean; sha256: boolean }
  signal?: AbortSignal
  /** Called with each chunk's length as it is written. */
  onBytes?: (count: number) => void
}

/**
 * Streams one object to `file` (parent folders made), hashing on the way so nothing is read twice.
 * The GET carries `If-Match: <listed ETag>`, so S3 refuses an object replaced since the listing
 * (and a response with another ETag is refused here too); more bytes than the listing's size stop
 * the download at once.
 */
export async function downloadObject(client: S3Client, object: BundleObject, file: string, options: DownloadOptions): Promise<DownloadedObject> {
  const { signal, onBytes } = options
  const fail = (message: string, cause?: unknown) => new ModelStoreError(message, { file: object.path, cause })
  let response
  try {
    response = await client.send(
      new GetObjectCommand({ Bucket: options.bucket, Key: object.key, ...(object.etag ? { IfMatch: object.etag } : {}) }),
      signal ? { abortSignal: signal } : {},
    )
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412) {
      throw fail(`changed since it was listed (its ETag is no longer ${object.etag}); run again to fetch the new upload`, error)
    }
    throw fail(`download failed: ${(error as Error).message}`, error)
  }
  const body = response.Body
  if (!(body instanceof Readable)) throw fail('the S3 client returned no Node.js stream for the object body')
  // For servers that ignore If-Match (s3rver does): the response still names the version it sends.
  if (object.etag && response.ETag && response.ETag !== object.etag) {
    body.destroy()
    throw fail(`changed since it was listed (ETag ${response.ETag}, listed ${object.etag}); run again to fetch the new upload`)
  }

  const md5 = options.hashes.md5 ? createHash('md5') : undefined
  const sha256 = options.hashes.sha256 ? createHash('sha256') : undefined
  let bytes = 0
  mkdirSync(dirname(file), { recursive: true })
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length
          if (bytes > object.size) throw fail(`the server sent more than the ${object.size} bytes the listing says`)
          md5?.update(chunk)
          sha256?.update(chunk)
          onBytes?.(chunk.length)
          yield chunk
        }
      },
      createWriteStream(file),
      signal ? { signal } : {},
    )
  } catch (error) {
    if (error instanceof ModelStoreError) throw error
    throw fail(`download failed after ${bytes} bytes: ${(error as Error).message}`, error)
  }
  const sse = response.ServerSideEncryption
  const encrypted = response.SSECustomerAlgorithm ? 'SSE-C' : sse && sse !== 'AES256' ? sse : undefined
  return {
    bytes,
    ...(md5 ? { md5: md5.digest('hex') } : {}),
    ...(sha256 ? { sha256: sha256.digest('hex') } : {}),
    ...(encrypted ? { encryption: encrypted } : {}),
  }
}
