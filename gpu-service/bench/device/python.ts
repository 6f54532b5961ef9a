import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The device scripts (Python, run here by the dry run and the tests). */
export const DEVICE_DIR = fileURLToPath(new URL('.', import.meta.url))

/**
 * A python3 here that imports `modules` (default NumPy): $SNOOPI_PYTHON, Debian's /usr/bin/python3
 * (the one the training recipe installs torch into), or python3 on the PATH. Undefined if none does.
 */
export function findPython(modules: string[] = ['numpy']): string | undefined {
  const candidates = [process.env.SNOOPI_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p))
  return candidates.find((python) => spawnSync(python, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' }).status === 0)
}

/** Runs a Python command; throws with its output when it fails. */
export function runPython(python: string, args: string[], cwd = DEVICE_DIR): string {
  const result = spawnSync(python, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, PYTHONUNBUFFERED: '1' } })
  if (result.status !== 0) throw new Error(`${python} ${args.join(' ')} exited ${result.status ?? result.error?.message}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}
