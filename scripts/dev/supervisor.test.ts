import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { backoffMs, describeExit, stopGroup, Supervisor, type Exit } from './supervisor.ts'

/** A tiny `node -e` child in its own process group, as local-stack.ts starts the tiers. */
const child = (script: string) => () => spawn(process.execPath, ['-e', script], { stdio: 'ignore', detached: true })

const running: Supervisor[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((supervisor) => supervisor.stop(200)))
})

function supervise(options: Partial<ConstructorParameters<typeof Supervisor>[0]> & Pick<ConstructorParameters<typeof Supervisor>[0], 'start'>) {
  const lines: string[] = []
  const supervisor = new Supervisor({ name: 'worker', shouldRestart: () => true, log: (line) => lines.push(line), ...options })
  running.push(supervisor)
  return { supervisor, lines }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return !(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').startsWith('Z')
  } catch {
    return false
  }
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('backoff', () => {
  it('doubles from 1 s and stays at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffMs(attempt))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
    expect([0, 1, 2, 3].map((attempt) => backoffMs(attempt, 50, 120))).toEqual([50, 100, 120, 120])
  })

  it('describes an exit by its code or its signal', () => {
    expect(describeExit({ code: 3, signal: null })).toBe('code 3')
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('signal SIGKILL')
  })
})

describe('supervisor', () => {
  it('restarts a child that exits, with growing delays, until told to give up', async () => {
    const starts: number[] = []
    let runs = 0
    const { supervisor, lines } = supervise({
      start: () => {
        starts.push(Date.now())
        runs++
        return child('process.exit(3)')()
      },
      shouldRestart: () => runs < 4,
      baseDelayMs: 100,
      maxDelayMs: 300,
    })
    const exit: Exit = await supervisor.gaveUp
    expect(exit).toEqual({ code: 3, signal: null })
    expect(runs).toBe(4)
    expect(supervisor.restarts).toBe(3)
    expect(lines).toEqual([
      'worker exited (code 3); restarting in 0.1 s',
      'worker exited (code 3); restarting in 0.2 s',
      'worker exited (code 3); restarting in 0.3 s',
    ])
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!)
    expect(gaps[0]).toBeGreaterThanOrEqual(100)
    expect(gaps[1]).toBeGreaterThanOrEqual(200)
    expect(gaps[2]).toBeGreaterThanOrEqual(300)
  })

  it('starts the backoff over after a run that lasted', async () => {
    let runs = 0
    const { supervisor, lines } = supervise({
      start: () => {
        runs++
        return child('setTimeout(() => process.exit(1), 300)')()
      },
      shouldRestart: () => runs < 3,
      baseDelayMs: 50,
      stableMs: 250,
    })
    await supervisor.gaveUp
    expect(lines).toEqual(['worker exited (code 1); restarting in 0.05 s', 'worker exited (code 1); restarting in 0.05 s'])
  })

  it('brings back a child killed with SIGKILL under a new pid', async () => {
    const { supervisor, lines } = supervise({ start: child('setInterval(() => {}, 1000)'), baseDelayMs: 50 })
    const first = supervisor.pid!
    await until(() => alive(first))
    process.kill(first, 'SIGKILL')
    await until(() => supervisor.pid !== undefined && supervisor.pid !== first)
    expect(lines).toEqual(['worker exited (signal SIGKILL); restarting in 0.05 s'])
    expect(alive(supervisor.pid!)).toBe(true)
  })

  it('stop() ends a child that ignores SIGTERM with SIGKILL after the grace time, and its whole group', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'supervisor-'))
    const grandchildPid = join(dir, 'pid')
    // The child starts a grandchild in its group and ignores SIGTERM; so does the grandchild.
    const script = `
      const { spawn } = require('node:child_process')
      const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' })
      require('node:fs').writeFileSync(${JSON.stringify(grandchildPid)}, String(grandchild.pid))
      process.on('SIGTERM', () => {})
      setInterval(() => {}, 1000)`
    const { supervisor, lines } = supervise({ start: child(script) })
    const pid = supervisor.pid!
    await until(() => existsSync(grandchildPid) && readFileSync(grandchildPid, 'utf8') !== '')
    const grandchild = Number(readFileSync(grandchildPid, 'utf8'))
    await new Promise((resolve) => setTimeout(resolve, 200)) // both have installed their SIGTERM handlers
    const started = Date.now()
    await supervisor.stop(300)
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(alive(pid)).toBe(false)
    await until(() => !alive(grandchild), 2_000)
    expect(lines).toEqual([]) // a stop is not a crash: no restart
    expect(supervisor.pid).toBeUndefined()
  })

  it('stop() during the wait before a restart cancels it', async () => {
    let runs = 0
    const { supervisor, lines } = supervise({
      start: () => {
        runs++
        return child('process.exit(2)')()
      },
      baseDelayMs: 300,
    })
    await until(() => lines.length === 1)
    await supervisor.stop(100)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(runs).toBe(1)
  })

  it('stopGroup() returns at once for a group that is gone', async () => {
    const started = Date.now()
    await stopGroup(2 ** 22 + 12345, 5_000)
    expect(Date.now() - started).toBeLessThan(100)
  })
})
