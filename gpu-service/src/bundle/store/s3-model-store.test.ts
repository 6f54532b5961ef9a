import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BundleError, loadBundle } from '../load/model-bundle.ts'
import { testBundle } from '../../testing/bundles.ts'
import { COMPLETE_MARKER } from './s3-listing.ts'
import { fetchBundleFromS3 } from './s3-model-store.ts'
import { startS3rver, type TestS3 } from '../../testing/s3rver-fixture.ts'

const bucket = 'snoopi-models'
let s3: TestS3
let bundle: string
let bundleFiles: string[]
const cacheDirs: string[] = []

beforeAll(async () => {
  s3 = await startS3rver()
  await s3.createBucket(bucket)
  bundle = testBundle('tiny')
  bundleFiles = filesUnder(bundle)
}, 60_000)

afterAll(async () => {
  await s3?.stop()
  for (const dir of cacheDirs) rmSync(dir, { recursive: true, force: true })
})

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const sha256sums = (files: string[], override: Record<string, string> = {}) =>
  files.map((file) => `${override[file] ?? sha256(readFileSync(join(bundle, file)))}  ${file}\n`).join('')

function setup() {
  const cacheDir = mkdtempSync(join(tmpdir(), 'snoopi-model-cache-'))
  cacheDirs.push(cacheDir)
  const { client, calls } = s3.client()
  const lines: string[] = []
  const fetch = (uri: string, extra: { concurrency?: number } = {}) => fetchBundleFromS3({ uri, cacheDir, client, log: (line) => lines.push(line), ...extra })
  return { cacheDir, client, calls, lines, fetch }
}

describe('fetchBundleFromS3 against s3rver', () => {
  it('downloads a bundle that loadBundle accepts, byte for byte, logging progress', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/v1/')
    const { cacheDir, calls, lines, fetch } = setup()
    const started = performance.now()
    const dir = await fetch(`s3://${bucket}/tiny/v1/`)
    const seconds = (performance.now() - started) / 1000

    expect(dir).toMatch(new RegExp(`^${escape(cacheDir)}/${bucket}/tiny/v1/[0-9a-f]{16}$`))
    expect(loadBundle(dir).files.unet).toBe(join(dir, 'unet/model.onnx'))
    expect(filesUnder(dir)).toEqual([COMPLETE_MARKER, ...bundleFiles].sort())
    for (const file of bundleFiles) expect(readFileSync(join(dir, file)).equals(readFileSync(join(bundle, file))), file).toBe(true)
    expect(calls.get('GetObjectCommand')).toBe(bundleFiles.length)
    expect(readdirSync(cacheDir)).toEqual([bucket])

    expect(lines[0]).toMatch(new RegExp(`^model store: downloading s3://${bucket}/tiny/v1/ \\(${bundleFiles.length} files, [\\d.]+ MB\\) into ${escape(dir)}$`))
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}unet\/model\.onnx: [\d.]+ MB \(\d+\/\d+ files, [\d.]+ MB \/ [\d.]+ MB\)$/))
    expect(lines.at(-1)).toMatch(new RegExp(`^model store: ${bundleFiles.length} files, [\\d.]+ MB in [\\d.]+ s \\([\\d.]+ MB/s\\); verified ${bundleFiles.length} by MD5 ETag$`))
    const bytes = bundleFiles.reduce((sum, file) => sum + readFileSync(join(bundle, file)).length, 0)
    console.log(`s3rver download: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(3)} s = ${(bytes / 1e6 / seconds).toFixed(1)} MB/s`)
  })

  it('serves a second call from the cache after one LIST, without GetObject', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/cached/')
    const { calls, lines, fetch } = setup()
    const first = await fetch(`s3://${bucket}/tiny/cached`)
    calls.clear()
    lines.length = 0
    expect(await fetch(`s3://${bucket}/tiny/cached/`)).toBe(first)
    expect(Object.fromEntries(calls)).toEqual({ ListObjectsV2Command: 1 })
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^model store: s3://${bucket}/tiny/cached/ is cached in ${escape(first)} \\(\\d+ files, [\\d.]+ MB\\)$`))])
  })

  it('downloads again into the same folder when its completion marker is missing', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/unmarked/')
    const { calls, fetch } = setup()
    const dir = await fetch(`s3://${bucket}/tiny/unmarked/`)
    rmSync(join(dir, COMPLETE_MARKER))
    calls.clear()
    expect(await fetch(`s3://${bucket}/tiny/unmarked/`)).toBe(dir)
    expect(calls.get('GetObjectCommand')).toBe(bundleFiles.length)
    expect(existsSync(join(dir, COMPLETE_MARKER))).toBe(true)
  })

  it('puts a changed upload (new ETag) in a new folder', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/changing/')
    const { fetch } = setup()
    const before = await fetch(`s3://${bucket}/tiny/changing/`)
    const snoopi = { ...(JSON.parse(readFileSync(join(bundle, 'snoopi.json'), 'utf8')) as object), display_name: 'Tiny, re-uploaded' }
    await s3.put(bucket, 'tiny/changing/snoopi.json', JSON.stringify(snoopi))
    const after = await fetch(`s3://${bucket}/tiny/changing/`)
    expect(after).not.toBe(before)
    expect(loadBundle(after).displayName).toBe('Tiny, re-uploaded')
    expect(loadBundle(before).displayName).not.toBe('Tiny, re-uploaded')
  })

  it('pages through ListObjectsV2', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/paged/')
    const { client, calls, fetch } = setup()
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'ListObjectsV2Command') (args.input as { MaxKeys?: number }).MaxKeys = 3
        return next(args)
      },
      { step: 'initialize', name: 'smallPages' },
    )
    const dir = await fetch(`s3://${bucket}/tiny/paged/`, { concurrency: 1 })
    expect(calls.get('ListObjectsV2Command')).toBe(Math.ceil(bundleFiles.length / 3))
    expect(filesUnder(dir)).toEqual([COMPLETE_MARKER, ...bundleFiles].sort())
  })

  it('verifies against SHA256SUMS when the bundle has one', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/summed/', { SHA256SUMS: sha256sums(bundleFiles) })
    const { lines, fetch } = setup()
    const dir = await fetch(`s3://${bucket}/tiny/summed/`)
    expect(loadBundle(dir).dir).toBe(dir)
    expect(lines.at(-1)).toMatch(new RegExp(`verified ${bundleFiles.length} by SHA256SUMS, 1 by MD5 ETag$`))
  })

  it('fails on a file that does not match SHA256SUMS, naming it and leaving nothing behind', async () => {
    const sums = sha256sums(bundleFiles, { 'unet/model.onnx': '0'.repeat(64) })
    await s3.uploadFolder(bundle, bucket, 'tiny/bad-sum/', { SHA256SUMS: sums })
    const { cacheDir, fetch } = setup()
    await expect(fetch(`s3://${bucket}/tiny/bad-sum/`)).rejects.toThrow(
      /^model store: unet\/model\.onnx: SHA-256 is [0-9a-f]{64}, SHA256SUMS says 0{64}$/,
    )
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it('fails when SHA256SUMS and the listing disagree on which files there are', async () => {
    const { cacheDir, calls, fetch } = setup()
    await s3.uploadFolder(bundle, bucket, 'tiny/sums-extra/', { SHA256SUMS: `${sha256sums(bundleFiles)}${'1'.repeat(64)}  unet/model.onnx_data\n` })
    await expect(fetch(`s3://${bucket}/tiny/sums-extra/`)).rejects.toThrow(
      'model store: unet/model.onnx_data: SHA256SUMS names unet/model.onnx_data, which is not under the prefix',
    )
    await s3.uploadFolder(bundle, bucket, 'tiny/sums-short/', { SHA256SUMS: sha256sums(bundleFiles.filter((file) => file !== 'snoopi.json')) })
    await expect(fetch(`s3://${bucket}/tiny/sums-short/`)).rejects.toThrow('model store: snoopi.json: not listed in SHA256SUMS')
    expect(calls.get('GetObjectCommand')).toBe(2) // only SHA256SUMS, each time
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it('fails the MD5 check on an object whose bytes do not match its ETag', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/rotten/')
    s3.corruptStoredObject(bucket, 'tiny/rotten/vae_decoder/model.onnx')
    const { cacheDir, fetch } = setup()
    await expect(fetch(`s3://${bucket}/tiny/rotten/`)).rejects.toThrow(/^model store: vae_decoder\/model\.onnx: MD5 is [0-9a-f]{32}, its ETag says [0-9a-f]{32}$/)
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it('fails on an object replaced between the listing and its download', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/replaced/')
    const { cacheDir, client, fetch } = setup()
    let replaced = false
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key
        if (context.commandName === 'GetObjectCommand' && key === 'tiny/replaced/text_encoder/model.onnx' && !replaced) {
          replaced = true
          const { client: other } = s3.client()
          await other.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(100_000, 7) }))
          other.destroy()
        }
        return next(args)
      },
      { step: 'initialize', name: 'replaceOne' },
    )
    // Real S3 answers the GET's If-Match with 412; s3rver ignores If-Match, but its response has the new ETag.
    await expect(fetch(`s3://${bucket}/tiny/replaced/`)).rejects.toThrow(
      /^model store: text_encoder\/model\.onnx: changed since it was listed \(ETag "[0-9a-f]{32}", listed "[0-9a-f]{32}"\); run again to fetch the new upload$/,
    )
    expect(replaced).toBe(true)
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it('fails a broken upload at download time with the BundleError', async () => {
    await s3.uploadFolder(bundle, bucket, 'tiny/broken/')
    const { client, cacheDir, fetch } = setup()
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'tiny/broken/tokenizer/merges.txt' }))
    const failure = fetch(`s3://${bucket}/tiny/broken/`)
    await expect(failure).rejects.toBeInstanceOf(BundleError)
    await expect(failure).rejects.toThrow('model bundle: tokenizer/merges.txt: missing')
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it('fails clearly on an empty prefix and on a bad URI', async () => {
    const { calls, fetch } = setup()
    await expect(fetch(`s3://${bucket}/nothing/here/`)).rejects.toThrow(`model store: no objects under s3://${bucket}/nothing/here/ (is the bundle uploaded there?)`)
    await expect(fetch('https://example.com/models/')).rejects.toThrow('model store: MODEL_S3_URI must look like s3://bucket/prefix/ (got "https://example.com/models/")')
    expect(Object.fromEntries(calls)).toEqual({ ListObjectsV2Command: 1 })
  })
})
