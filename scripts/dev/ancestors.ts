import { readFileSync } from 'node:fs'

export interface ProcStat {
  pid: number
  comm: string
  /** R, S, D, Z (zombie), X (dead), … */
  state: string
  ppid: number
  pgrp: number
  /** Clock ticks after boot: with the pid, identifies a process even when pids are reused. */
  startTime: string
}

/** `/proc/<pid>/stat`, or undefined when there is no such process (or no /proc, as on macOS). */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}

/** Parses the text of `/proc/<pid>/stat` (see proc(5)). */
export function parseProcStat(text: string): ProcStat | undefined {
  // `pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads itrealvalue starttime …`; comm may hold spaces and parentheses.
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return undefined
  const fields = text.slice(close + 2).split(' ')
  const stat = {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: fields[19] ?? '',
  }
  return Number.isInteger(stat.pid) && Number.isInteger(stat.ppid) && stat.startTime !== '' ? stat : undefined
}

/** Whether the process `stat` describes still runs (not gone, not a zombie, its pid not reused). */
export function isRunning(stat: Pick<ProcStat, 'pid' | 'startTime'>): boolean {
  const now = readProcStat(stat.pid)
  return now !== undefined && now.startTime === stat.startTime && now.state !== 'Z' && now.state !== 'X'
}

/**
 * The processes in front of `pid`: its parent, then every further ancestor in `pid`'s process group
 * (for `npm start` in a shell: the `sh -c` and npm itself; the job's group ends at npm). Init is never
 * included. Empty without /proc.
 */
export function frontAncestors(pid = process.pid): ProcStat[] {
  const self = readProcStat(pid)
  if (!self) return []
  const chain: ProcStat[] = []
  let next = self.ppid
  while (next > 1 && chain.length < 64) {
    const stat = readProcStat(next)
    if (!stat || (chain.length > 0 && stat.pgrp !== self.pgrp)) break
    chain.push(stat)
    next = stat.ppid
  }
  return chain
}

/**
 * Calls `onGone` once (and stops watching) when a process in front of this one ends, checking every
 * `intervalMs`: the parent changing (this process re-parented to init or a subreaper) or, where /proc
 * exists, any of `frontAncestors()` exiting. npm and the `sh -c` it runs do not reliably pass SIGTERM
 * on to the script, and SIGKILL cannot be passed on at all, so a signal to them only shows as their end.
 * Returns a function that stops the watch.
 */
export function watchAncestors(onGone: (who: string) => void, intervalMs = 250): () => void {
  const parent = process.ppid
  const watched = frontAncestors()
  const timer = setInterval(() => {
    let gone: string | undefined
    if (process.ppid !== parent) gone = `the parent process (pid ${parent})`
    else {
      const ended = watched.find((stat) => !isRunning(stat))
      if (ended) gone = `${ended.comm} (pid ${ended.pid})`
    }
    if (gone === undefined) return
    clearInterval(timer)
    onGone(gone)
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
