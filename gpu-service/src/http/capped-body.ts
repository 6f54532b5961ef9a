/**
 * Reading a request body under a byte cap, so that a stranger's upload costs at most the cap.
 * `c.req.arrayBuffer()` would buffer whatever arrives (64 MiB bodies, four at a time, took the
 * service from ~290 MiB to ~730 MiB RSS); here a declared Content-Length over the cap is refused
 * before reading, and a streamed body is counted chunk by chunk and dropped the moment it passes
 * the cap. The rest of an abandoned upload is discarded by @hono/node-server (it drains the socket
 * for a moment after the response, then closes it), never buffered.
 */

export type CappedBody = { ok: true; bytes: Uint8Array<ArrayBuffer> } | { ok: false; reason: 'too_large' | 'unreadable' }

/** True when the request declares (Content-Length) a body longer than `maxBytes`. */
export function declaresTooLarge(headers: Headers, maxBytes: number): boolean {
  const declared = headers.get('content-length')
  return declared !== null && /^\d+$/.test(declared.trim()) && Number(declared.trim()) > maxBytes
}

/** The whole body, or `too_large` as soon as more than `maxBytes` have arrived (nothing more is read). */
export async function readCappedBody(request: Request, maxBytes: number): Promise<CappedBody> {
  if (declaresTooLarge(request.headers, maxBytes)) return { ok: false, reason: 'too_large' }
  if (!request.body) return { ok: true, bytes: new Uint8Array(0) }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        void reader.cancel().catch(() => undefined)
        return { ok: false, reason: 'too_large' }
      }
      chunks.push(value)
    }
  } catch {
    // The client went away mid-upload (or sent a malformed chunked body).
    return { ok: false, reason: 'unreadable' }
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { ok: true, bytes }
}
