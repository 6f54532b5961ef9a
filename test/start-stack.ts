import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ensureDevVars } from '../scripts/dev/dev-vars.ts'
import { freePort } from '../scripts/dev/port-check.ts'

const root = resolve(import.meta.dirname, '..')

/** The local stack as `npm start` runs it (scripts/start.ts: wrangler dev + the GPU service), for a test file. */
export interface LocalStack {
  child: ChildProcess
  edgeUrl: string
  gpuUrl: string
  /** The throw-away secrets file's values (ADMIN_TOKEN among them). */
  devVars: Record<string, string>
  /** Everything the stack printed so far (stdout and stderr). */
  readonly output: string
  /** SIGTERM, then the exit (nothing when it has exited already). */
  stop(): Promise<void>
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((done) => child.once('exit', (code) => done(code)))
}

/**
 * Starts the stack on free ports with its own secrets file and state folder (under a fresh
 * `prefix…` temporary folder) and resolves once it says it is running. When it exits first, the
 * error carries what it printed.
 */
export async function startStack(prefix: string, options: { metricsPort?: boolean } = {}): Promise<LocalStack> {
  const [edgePort, gpuPort] = [await freePort(), await freePort()]
  const metrics = options.metricsPort ? ['--metrics-port', String(await freePort())] : []
  const scratch = mkdtempSync(join(tmpdir(), prefix))
  const devVars = ensureDevVars(join(scratch, '.dev.vars')).vars
  const child = spawn(
    process.execPath,
    [
      join(root, 'scripts/start.ts'),
      ...['--edge-port', String(edgePort), '--gpu-port', String(gpuPort), ...metrics],
      ...['--dev-vars', join(scratch, '.dev.vars'), '--persist-to', join(scratch, 'state')],
    ],
    { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const stack: LocalStack = {
    child,
    edgeUrl: `http://127.0.0.1:${edgePort}`,
    gpuUrl: `http://127.0.0.1:${gpuPort}`,
    devVars,
    get output() {
      return output
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited(child)
      }
    },
  }
  await new Promise<void>((done, fail) => {
    const timer = setInterval(() => {
      if (output.includes('SNOOPI image API is running')) {
        clearInterval(timer)
        done()
      } else if (child.exitCode !== null) {
        clearInterval(timer)
        fail(new Error(`npm start exited early:\n${output}`))
      }
    }, 100)
  })
  return stack
}
