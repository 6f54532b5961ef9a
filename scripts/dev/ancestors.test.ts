import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { isRunning, parseProcStat, readProcStat } from './ancestors.ts'

const linux = existsSync('/proc/self/stat')
const groups: ChildProcess[] = []
const scratch: string[] = []
afterEach(() => {
  for (const group of groups.splice(0)) {
    try {
      process.kill(-group.pid!, 'SIGKILL')
    } catch {
      // Gone already.
    }
  }
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Starts `sh -c '<node watcher>; true'` (nested `depth` times, like npm → sh → node) in its own process
 * group. The watcher writes its front ancestors, then what it saw end, to files.
 */
function watcherBehindShells(depth: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ancestors-'))
  scratch.push(dir)
  const script = join(dir, 'watcher.mjs')
  writeFileSync(
    script,
    `import { writeFileSync } from 'node:fs'
import { frontAncestors, watchAncestors } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'ancestors.ts')).href)}
watchAncestors((who) => { writeFileSync(${JSON.stringify(join(dir, 'gone'))}, who); process.exit(0) }, 50)
writeFileSync(${JSON.stringify(join(dir, 'front'))}, JSON.stringify({ pid: process.pid, front: frontAncestors().map((stat) => stat.pid) }))
setInterval(() => {}, 1000)
`,
  )
  let command = `"${process.execPath}" "${script}"; true`
  for (let i = 1; i < depth; i++) command = `sh -c '${command.replaceAll("'", `'\\''`)}'; true`
  const shell = spawn('sh', ['-c', command], { stdio: 'ignore', detached: true })
  groups.push(shell)
  const front = async () => {
    await until(() => existsSync(join(dir, 'front')))
    return JSON.parse(readFileSync(join(dir, 'front'), 'utf8')) as { pid: number; front: number[] }
  }
  const gone = async () => {
    await until(() => existsSync(join(dir, 'gone')), 5_000)
    return readFileSync(join(dir, 'gone'), 'utf8')
  }
  return { shell, front, gone }
}

describe('/proc/<pid>/stat', () => {
  it('parses a command name with spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3))
    fields[0] = 'S'
    fields[1] = '41'
    fields[2] = '40'
    expect(parseProcStat(`42 (a (b) c) ${fields.join(' ')}\n`)).toEqual({ pid: 42, comm: 'a (b) c', state: 'S', ppid: 41, pgrp: 40, startTime: '22' })
    expect(parseProcStat('garbage')).toBeUndefined()
  })

  it.runIf(linux)('reads this process and tells a reused pid from the original', () => {
    const self = readProcStat(process.pid)!
    expect([self.pid, self.ppid, self.pgrp > 0]).toEqual([process.pid, process.ppid, true])
    expect(isRunning(self)).toBe(true)
    expect(isRunning({ pid: process.pid, startTime: `${self.startTime}0` })).toBe(false)
    expect(readProcStat(2 ** 22 + 12345)).toBeUndefined()
  })
})

describe.runIf(linux)('watching the processes in front', () => {
  it('lists the parent and the ancestors in its process group (sh, sh), not beyond', async () => {
    const { shell, front } = watcherBehindShells(2)
    const seen = await front()
    expect(seen.front).toHaveLength(2)
    expect(seen.front[1]).toBe(shell.pid)
    expect(readProcStat(seen.front[0]!)?.ppid).toBe(shell.pid)
  })

  it('notices its parent ending (SIGKILL, which nothing can pass on)', async () => {
    const { shell, front, gone } = watcherBehindShells(1)
    const { pid } = await front()
    process.kill(shell.pid!, 'SIGKILL')
    expect(await gone()).toMatch(new RegExp(`\\(pid ${shell.pid}\\)`))
    await until(() => readProcStat(pid) === undefined || readProcStat(pid)?.state === 'Z', 2_000)
  })

  it('notices a further ancestor ending while its parent lives on (npm killed, the sh -c orphaned)', async () => {
    const { shell, front, gone } = watcherBehindShells(2)
    const { front: chain } = await front()
    process.kill(shell.pid!, 'SIGKILL')
    expect(await gone()).toBe(`sh (pid ${shell.pid})`)
    expect(readProcStat(chain[0]!)).toBeDefined() // the inner sh still runs: only the chain watch can tell
  })
})
