/**
 * Request `Cache-Control` directives (RFC 9111 §5.2): comma-separated `name` or `name=value` (token
 * or quoted string), names case-insensitive. Parsed as a list, not searched for a substring, so a
 * quoted value such as `foo="no-cache"` or a directive like `no-cache-please` means nothing here.
 * A directive given twice keeps its first value.
 *
 * @example cacheControlDirectives('No-Cache, max-age="0"') // Map { 'no-cache' => undefined, 'max-age' => '0' }
 */
export function cacheControlDirectives(header: string): Map<string, string | undefined> {
  const directives = new Map<string, string | undefined>()
  // name, then optionally "=" and a quoted string (with \-escapes) or a token, then a comma or the end.
  const member = /\s*([^\s=,"]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*)))?\s*(?:,|$)/gy
  let at = 0
  while (at < header.length) {
    member.lastIndex = at
    const match = member.exec(header)
    if (!match || member.lastIndex === at) {
      // Unparseable from here: skip to the next comma outside quotes and go on.
      at = nextComma(header, at) + 1
      continue
    }
    at = member.lastIndex
    const name = (match[1] as string).toLowerCase()
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]
    if (!directives.has(name)) directives.set(name, value)
  }
  return directives
}

function nextComma(header: string, from: number): number {
  let quoted = false
  for (let i = from; i < header.length; i++) {
    const char = header[i]
    if (char === '\\' && quoted) i++
    else if (char === '"') quoted = !quoted
    else if (char === ',' && !quoted) return i
  }
  return header.length
}

/**
 * Whether a generation request asks for new images instead of a cached answer: `Cache-Control:
 * no-cache` or `max-age=0` (nothing stored is fresh enough for it), or the HTTP/1.0 form `Pragma:
 * no-cache`. Any one of them is enough: only the client decides to force, and it pays for it.
 *
 * @example forcesRegeneration(new Headers({ 'cache-control': 'max-age=0' })) // true
 */
export function forcesRegeneration(headers: Headers): boolean {
  const directives = cacheControlDirectives(headers.get('cache-control') ?? '')
  const maxAge = directives.get('max-age')
  return directives.has('no-cache') || (maxAge !== undefined && /^\d+$/.test(maxAge) && Number(maxAge) === 0) || cacheControlDirectives(headers.get('pragma') ?? '').has('no-cache')
}
