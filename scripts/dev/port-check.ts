import { createServer } from 'node:net'

export interface NamedPort {
  port: number
  /** The option that sets it, named in the message (`--edge-port`). */
  option: string
}

/** Why `port` cannot be listened on at `host` (an error code such as `EADDRINUSE`), or undefined when it can. */
export function portProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((done) => {
    const server = createServer()
    server.unref()
    server.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message))
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(undefined)))
  })
}

/**
 * One line per port of `ports` that is taken (or otherwise unusable), empty when all are free. Run before
 * anything starts: otherwise an old stack on the same ports answers the health checks and the new GPU
 * service dies with a raw EADDRINUSE.
 */
export async function portsInUse(ports: NamedPort[], host = '127.0.0.1'): Promise<string[]> {
  const problems = await Promise.all(ports.map(({ port }) => portProblem(port, host)))
  return ports.flatMap(({ port, option }, i) => {
    const problem = problems[i]
    if (problem === undefined) return []
    if (problem === 'EADDRINUSE') return [`port ${port} (${option}) is already in use; stop what uses it or pick another with ${option}`]
    return [`cannot listen on ${host}:${port} (${option}): ${problem}; pick another port with ${option}`]
  })
}

/**
 * A port that was free on `host` a moment ago (the system's pick for port 0), for tests and benches that
 * start servers of their own.
 *
 * @example const [edgePort, gpuPort] = [await freePort(), await freePort()]
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))))
    })
  })
}
