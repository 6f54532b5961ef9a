import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** Body bytes the client had written when the response's headers arrived. */
  bodyBytesSentBefore: number
}

/**
 * Sends an HTTP/1.1 request byte for byte (no URL normalisation, unlike fetch: `/a/../b` goes out as
 * written) and reads one response. `send` may keep writing body bytes through `write` (which
 * resolves when the socket drained) until `answered()` is true; the socket is never ended by this
 * helper, so a server that waits for the rest of a body never answers.
 */
export function rawRequest(
  url: string,
  head: string,
  send?: (write: (bytes: string | Uint8Array) => Promise<void>, answered: () => boolean) => Promise<void>,
  timeoutMs = 5000,
): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    let received = Buffer.alloc(0)
    let sent = 0
    let headers: { status: number; headers: Record<string, string>; bodyStart: number; sentBefore: number } | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete response within ${timeoutMs} ms (${sent} body bytes sent)`))
    }, timeoutMs)
    const finish = (result: RawResponse) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (!headers) {
        const end = received.indexOf('\r\n\r\n')
        if (end < 0) return
        const [statusLine, ...lines] = received.subarray(0, end).toString('latin1').split('\r\n')
        const fields = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
        headers = { status: Number(statusLine!.split(' ')[1]), headers: fields, bodyStart: end + 4, sentBefore: sent }
      }
      const length = Number(headers.headers['content-length'] ?? 0)
      if (received.length - headers.bodyStart >= length) {
        const body = received.subarray(headers.bodyStart, headers.bodyStart + length).toString('utf8')
        finish({ status: headers.status, headers: headers.headers, body, bodyBytesSentBefore: headers.sentBefore })
      }
    })
    socket.once('connect', () => {
      socket.write(head)
      const write = (bytes: string | Uint8Array) =>
        new Promise<void>((done) => {
          if (socket.destroyed) return done()
          sent += typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength
          if (socket.write(bytes)) done()
          else socket.once('drain', () => done())
        })
      send?.(write, () => headers !== undefined || socket.destroyed).catch(() => undefined)
    })
  })
}

/** One chunk of a chunked body: `<hex size>\r\n<bytes>\r\n`. */
export function chunk(bytes: Uint8Array | string): Buffer {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes)
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')])
}
