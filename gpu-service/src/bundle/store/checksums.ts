import { ModelStoreError } from './model-store-error.ts'

/** Name of the optional checksum file at the bundle's root, in `sha256sum` format. */
export const SHA256SUMS = 'SHA256SUMS'

/**
 * Parses `sha256sum` output: `<64 hex>  <path>` (text mode) or `<64 hex> *<path>` (binary mode), one
 * file a line; a leading `./` is dropped and blank lines are skipped. Returns path → lowercase hex.
 */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>()
  text.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim()) return
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line)
    if (!match) throw new ModelStoreError(`line ${index + 1} is not "<sha256>  <path>": ${JSON.stringify(line.slice(0, 120))}`, { file: SHA256SUMS })
    const path = (match[2] ?? '').replace(/^\.\//, '')
    if (sums.has(path)) throw new ModelStoreError(`line ${index + 1} names ${path} a second time`, { file: SHA256SUMS })
    sums.set(path, (match[1] ?? '').toLowerCase())
  })
  return sums
}

/**
 * The MD5 an ETag stands for, or undefined when it is not one: multipart uploads have ETags
 * `<md5 of the part MD5s>-<part count>`, which no hash of the bytes can reproduce.
 */
export function etagMd5(etag: string): string | undefined {
  const bare = etag.replaceAll('"', '').toLowerCase()
  return /^[0-9a-f]{32}$/.test(bare) ? bare : undefined
}
