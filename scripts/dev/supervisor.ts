import type { ChildProcess } from 'node:child_process'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** `code 1` or `signal SIGKILL`, for log lines. */
export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`
}

/** Delay before restart number `attempt` (0-based): base, 2·base, 4·base, … capped at `capMs`. */
export function backoffMs(attempt: number, baseMs = 1_000, capMs = 30_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt))
}

export interface SuperviseOptions {
  /** Named in log lines: `gpu service exited (code 1); restarting in 1 s`. */
  name: string
  /** Starts one run of the process, in its own process group (`detached: true`), so its group can be signalled. */
  start: () => ChildProcess
  /** Asked at each unexpected exit: start it again (after the backoff) or give up. */
  shouldRestart: (exit: Exit) => boolean
  log: (line: string) => void
  baseDelayMs?: number
  maxDelayMs?: number
  /** A run at least this long starts the backoff over from `baseDelayMs`. */
  stableMs?: number
}

/**
 * Runs a process and restarts it with exponential backoff when it exits on its own and `shouldRestart`
 * says so. `gaveUp` settles with the exit that was not followed by a restart; `stop()` ends it for good.
 */
export class Supervisor {
  readonly gaveUp: Promise<Exit>
  /** Starts so far after the first. */
  restarts = 0
  private child: ChildProcess | undefined
  private timer: NodeJS.Timeout | undefined
  private stopping = false
  private attempt = 0
  private giveUp: (exit: Exit) => void = () => {}
  private readonly options: Required<SuperviseOptions>

  constructor(options: SuperviseOptions) {
    this.options = { baseDelayMs: 1_000, maxDelayMs: 30_000, stableMs: 60_000, ...options }
    this.gaveUp = new Promise((resolve) => (this.giveUp = resolve))
    this.run()
  }

  /** The pid of the current run, undefined while waiting to restart or after the end. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  private run(): void {
    const { start, shouldRestart, log, name, baseDelayMs, maxDelayMs, stableMs } = this.options
    const child = start()
    const startedAt = Date.now()
    this.child = child
    let ended = false
    const onEnd = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return
      ended = true
      if (this.child === child) this.child = undefined
      if (this.stopping) return // stop() waits for the rest of the group
      // An exit on its own: whatever it left in its group (e.g. workerd under wrangler) goes with it.
      signalGroup(child.pid, 'SIGKILL')
      const exit = { code, signal }
      if (!shouldRestart(exit)) {
        this.stopping = true
        this.giveUp(exit)
        return
      }
      if (Date.now() - startedAt >= stableMs) this.attempt = 0
      const delay = backoffMs(this.attempt++, baseDelayMs, maxDelayMs)
      log(`${name} exited (${describeExit(exit)}); restarting in ${delay / 1000} s`)
      this.timer = setTimeout(() => {
        this.timer = undefined
        if (this.stopping) return
        this.restarts++
        this.run()
      }, delay)
    }
    child.once('exit', onEnd)
    // A process that could not be started at all has no 'exit'.
    child.once('error', (error) => {
      log(`${name}: ${error.message}`)
      if (child.pid === undefined) onEnd(null, null)
    })
  }

  /**
   * Stops for good: SIGTERM to the process group of the current run, SIGKILL to it after `graceMs`, and
   * resolves once no process of the group is left (or shortly after the SIGKILL, whatever lingers).
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true
    clearTimeout(this.timer)
    const child = this.child
    if (child?.pid === undefined) return
    await stopGroup(child.pid, graceMs)
  }
}

/** Sends `signal` to process group `pgid` (a detached child's pid); false when the group is gone. */
export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pgid === undefined) return false
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the group is empty (at most ~2 s after the SIGKILL). */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return
  const killAt = Date.now() + graceMs
  while (Date.now() < killAt) {
    await sleep(50)
    if (!signalGroup(pgid, 0)) return
  }
  signalGroup(pgid, 'SIGKILL')
  const giveUpAt = Date.now() + 2_000
  while (Date.now() < giveUpAt && signalGroup(pgid, 0)) await sleep(50)
}
