import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../scripts/dev/port-check.ts'
import { exited } from './start-stack.ts'

/**
 * `npm start` itself, the way a developer, an IDE, systemd or Docker runs it: through npm, with signals
 * sent to npm's pid. Checks that the stack refuses taken ports, outlives a GPU service crash, and leaves
 * no process behind when npm is told to stop.
 */
const root = resolve(import.meta.dirname, '..')


/** Runs `npm start -- <ports> --persist-to <tmp> --dev-vars <tmp>` in its own process group, collecting its output. */
function npmStart(edgePort: number, gpuPort: number) {
  const scratch = mkdtempSync(join(tmpdir(), 'snoopi-npm-start-'))
  const args = ['--edge-port', String(edgePort), '--gpu-port', String(gpuPort), '--persist-to', join(scratch, 'state'), '--dev-vars', join(scratch, '.dev.vars')]
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const run = { child, scratch, output: '' }
  child.stdout.on('data', (chunk: Buffer) => (run.output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (run.output += chunk.toString()))
  return run
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

interface Proc {
  pid: number
  ppid: number
  state: string
}

function processes(): Proc[] {
  const all: Proc[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      all.push({ pid: Number(name), ppid: Number(fields[1]), state: fields[0] ?? '?' })
    } catch {
      // Ended while listing.
    }
  }
  return all
}

/** `pid` and all its descendants, from /proc. */
function tree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const proc of processes()) children.set(proc.ppid, [...(children.get(proc.ppid) ?? []), proc.pid])
  const found = [pid]
  for (let i = 0; i < found.length; i++) found.push(...(children.get(found[i]!) ?? []))
  return found
}

/** The pids of `pids` still running (zombies count as gone). */
function running(pids: number[]): number[] {
  const live = new Map(processes().map((proc) => [proc.pid, proc.state]))
  return pids.filter((pid) => live.has(pid) && live.get(pid) !== 'Z' && live.get(pid) !== 'X')
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/** Processes anywhere on the machine that belong to a run: its wrangler names the scratch folder, its GPU service has the port. */
function belongingTo(scratch: string, gpuPort: number): number[] {
  return processes()
    .filter((proc) => {
      if (cmdline(proc.pid).includes(scratch)) return true
      try {
        return readFileSync(`/proc/${proc.pid}/environ`, 'utf8').split('\0').includes(`PORT=${gpuPort}`) && cmdline(proc.pid).includes('gpu-service/src/main.ts')
      } catch {
        return false
      }
    })
    .map((proc) => proc.pid)
}

const killAll = (pids: number[]) => {
  for (const pid of running(pids)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Gone meanwhile.
    }
  }
}

describe('npm start with a port in use', () => {
  let holder: Server
  afterAll(() => new Promise<void>((done) => holder.close(() => done())))

  it('names the taken port, exits non-zero and starts nothing', async () => {
    holder = createServer()
    const taken = await new Promise<number>((done) =>
      holder.listen(0, '127.0.0.1', () => {
        const address = holder.address()
        done(typeof address === 'object' && address ? address.port : 0)
      }),
    )
    const gpuPort = await freePort()
    const run = npmStart(taken, gpuPort)
    const started = Date.now()
    const code = await exited(run.child)
    expect(code).not.toBe(0)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(run.output).toContain(`npm start: port ${taken} (--edge-port) is already in use; stop what uses it or pick another with --edge-port`)
    expect(run.output).not.toMatch(/\[(gpu|edge)\]/)
    expect(run.output).not.toContain('is running')
    expect(belongingTo(run.scratch, gpuPort)).toEqual([])
    // The check let go of the free port, and the holder still has its own.
    const probe = createServer()
    await new Promise<void>((done, fail) => probe.once('error', fail).listen(gpuPort, '127.0.0.1', () => probe.close(() => done())))
  })
})

describe('npm start under supervision', () => {
  let run: ReturnType<typeof npmStart>
  let edgeUrl = ''
  let gpuUrl = ''
  let gpuPort = 0
  const seen = new Set<number>()

  beforeAll(async () => {
    const edgePort = await freePort()
    gpuPort = await freePort()
    edgeUrl = `http://127.0.0.1:${edgePort}`
    gpuUrl = `http://127.0.0.1:${gpuPort}`
    run = npmStart(edgePort, gpuPort)
    await until('the banner', () => {
      if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output}`)
      return run.output.includes('SNOOPI image API is running')
    }, 110_000)
    for (const pid of tree(run.child.pid!)) seen.add(pid)
  })

  afterAll(() => {
    // Whatever a failed test left: every process this run was seen with, and anything naming its folders.
    if (!run) return
    for (const pid of tree(run.child.pid!)) seen.add(pid)
    killAll([...seen, ...belongingTo(run.scratch, gpuPort)])
  })

  it('prints the banner only once the GPU service is ready (/readyz)', async () => {
    expect((await fetch(`${gpuUrl}/readyz`)).status).toBe(200)
    expect(run.output.indexOf('[gpu]  model snoopi-default ready')).toBeGreaterThan(-1)
    expect(run.output.indexOf('[gpu]  model snoopi-default ready')).toBeLessThan(run.output.indexOf('SNOOPI image API is running'))
  })

  it('keeps the edge up when the GPU service is killed, and restarts the GPU service', async () => {
    const gpu = tree(run.child.pid!).filter((pid) => cmdline(pid).includes('gpu-service/src/main.ts'))
    expect(gpu).toHaveLength(1)
    process.kill(gpu[0]!, 'SIGKILL')
    let edgeChecks = 0
    await until(
      'the GPU service to be ready again',
      async () => {
        const health = await fetch(`${edgeUrl}/healthz`)
        expect(health.status).toBe(200)
        edgeChecks++
        try {
          return (await fetch(`${gpuUrl}/readyz`)).status === 200
        } catch {
          return false
        }
      },
      60_000,
    )
    expect(edgeChecks).toBeGreaterThan(3) // the edge answered throughout the outage (≥ 1 s of backoff)
    expect(run.output).toContain('gpu service exited (signal SIGKILL); restarting in 1 s')
    const again = tree(run.child.pid!).filter((pid) => cmdline(pid).includes('gpu-service/src/main.ts'))
    expect(again).toHaveLength(1)
    expect(again[0]).not.toBe(gpu[0])
    expect(run.child.exitCode).toBeNull()
  })

  it('stops every process of the tree within seconds of SIGTERM to npm', async () => {
    const pids = tree(run.child.pid!)
    for (const pid of pids) seen.add(pid)
    expect(pids.length).toBeGreaterThanOrEqual(5) // npm, start.ts, the GPU service, wrangler (+ its CLI), workerd
    const started = Date.now()
    process.kill(run.child.pid!, 'SIGTERM')
    await until('every process to end', () => running(pids).length === 0, 15_000)
    const stoppedMs = Date.now() - started
    console.log(`npm start: all ${pids.length} processes gone ${stoppedMs} ms after SIGTERM to npm`)
    expect(stoppedMs).toBeLessThan(12_000) // the tiers' SIGKILL deadline is 10 s
    expect(belongingTo(run.scratch, gpuPort)).toEqual([])
    await expect(fetch(`${edgeUrl}/healthz`)).rejects.toThrow()
    await expect(fetch(`${gpuUrl}/healthz`)).rejects.toThrow()
  })
})
