import { describe, expect, it } from 'vitest'
import type { BundleObject } from './s3-listing.ts'
import { hashesFor, verifyDownload } from './verify-download.ts'

const md5 = '5d41402abc4b2a76b9719d911017c592'
const sha = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
const single: BundleObject = { key: 'm/v1/unet/model.onnx', path: 'unet/model.onnx', size: 5, etag: `"${md5}"` }
const multipart: BundleObject = { ...single, path: 'unet/model.onnx_data', etag: `"${md5}-3"` }

describe('verifyDownload', () => {
  it('checks the size first, always', () => {
    expect(() => verifyDownload(single, { bytes: 4, md5 }, undefined)).toThrow('model store: unet/model.onnx: downloaded 4 bytes, the listing says 5')
  })

  it('uses SHA256SUMS when it names the file', () => {
    const sums = new Map([['unet/model.onnx', sha]])
    expect(hashesFor(single, sums)).toEqual({ sha256: true, md5: false })
    expect(verifyDownload(single, { bytes: 5, sha256: sha }, sums)).toEqual({ how: 'sha256' })
    expect(() => verifyDownload(single, { bytes: 5, sha256: '0'.repeat(64) }, sums)).toThrow(
      `model store: unet/model.onnx: SHA-256 is ${'0'.repeat(64)}, SHA256SUMS says ${sha}`,
    )
  })

  it('else the MD5 of a single-part ETag', () => {
    expect(hashesFor(single, undefined)).toEqual({ sha256: false, md5: true })
    expect(verifyDownload(single, { bytes: 5, md5 }, undefined)).toEqual({ how: 'md5' })
    expect(() => verifyDownload(single, { bytes: 5, md5: '0'.repeat(32) }, undefined)).toThrow(
      `model store: unet/model.onnx: MD5 is ${'0'.repeat(32)}, its ETag says ${md5}`,
    )
  })

  it('only the size of a multipart upload or a KMS-encrypted object, saying why', () => {
    expect(hashesFor(multipart, undefined)).toEqual({ sha256: false, md5: false })
    expect(verifyDownload(multipart, { bytes: 5 }, undefined)).toEqual({
      how: 'size',
      note: `ETag "${md5}-3" is a multipart ETag, not verifiable by MD5; size checked only`,
    })
    expect(verifyDownload(single, { bytes: 5, md5: '0'.repeat(32), encryption: 'aws:kms' }, undefined)).toEqual({
      how: 'size',
      note: 'encrypted with aws:kms, so its ETag is not an MD5; size checked only',
    })
  })
})
