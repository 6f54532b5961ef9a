import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { portProblem, portsInUse } from './port-check.ts'

const servers: Server[] = []

function listen(host: string, port = 0): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    servers.push(server)
    server.once('error', fail)
    server.listen(port, host, () => {
      const address = server.address()
      if (typeof address === 'object' && address) done(address.port)
      else fail(new Error('no port'))
    })
  })
}

async function freePort(): Promise<number> {
  const port = await listen('127.0.0.1')
  await new Promise((done) => servers.pop()!.close(done))
  return port
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))))
})

describe('port check', () => {
  it('finds a port another socket listens on, and leaves a free port free', async () => {
    const taken = await listen('127.0.0.1')
    const free = await freePort()
    expect(await portProblem(taken)).toBe('EADDRINUSE')
    expect(await portProblem(free)).toBeUndefined()
    // The check closed its own socket: the port can be listened on again at once.
    expect(await listen('127.0.0.1', free)).toBe(free)
  })

  it('counts a listener on every address (0.0.0.0) as taking the port', async () => {
    const taken = await listen('0.0.0.0')
    expect(await portProblem(taken)).toBe('EADDRINUSE')
  })

  it('names each taken port and the option that picks another, one line each', async () => {
    const edge = await listen('127.0.0.1')
    const gpu = await freePort()
    expect(
      await portsInUse([
        { port: edge, option: '--edge-port' },
        { port: gpu, option: '--gpu-port' },
      ]),
    ).toEqual([`port ${edge} (--edge-port) is already in use; stop what uses it or pick another with --edge-port`])
    const both = await listen('127.0.0.1', gpu)
    expect(
      await portsInUse([
        { port: edge, option: '--edge-port' },
        { port: both, option: '--gpu-port' },
      ]),
    ).toHaveLength(2)
    expect(await portsInUse([{ port: await freePort(), option: '--edge-port' }])).toEqual([])
  })
})
