/** A satisfiable single byte range of a representation of `size` bytes: `[start, end]`, inclusive. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * RFC 9110 §14: what a `Range` header asks of a representation of `size` bytes.
 * - `undefined`: serve the whole representation (no header, another unit, several ranges, or a syntax
 *   the RFC says to ignore — a server may always answer 200 instead of 206);
 * - `'unsatisfiable'`: 416 (a well-formed range that starts past the end, or a zero-length suffix);
 * - a range: 206 with `Content-Range`.
 *
 * @example parseRange('bytes=0-1', 11) // { start: 0, end: 1 }
 * @example parseRange('bytes=-3', 11)  // { start: 8, end: 10 }
 */
export function parseRange(header: string | null, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === null) return undefined
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (!match) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (last !== '' && Number(last) < start) return undefined // invalid: ignored, the whole representation is served
  if (start >= size) return 'unsatisfiable'
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) }
}

/**
 * RFC 9110 §13.1.5: a range request with `If-Range` gets the range only while the validator still
 * matches (strong comparison of the entity tag, or the exact `Last-Modified` date).
 */
export function ifRangeHolds(request: Request, etag: string | null, lastModified: string | null): boolean {
  const ifRange = request.headers.get('if-range')
  if (ifRange === null) return true
  const value = ifRange.trim()
  if (value.startsWith('"')) return etag !== null && !etag.startsWith('W/') && value === etag
  return lastModified !== null && value === lastModified
}
