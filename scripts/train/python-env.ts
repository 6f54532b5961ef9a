import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * The Python the training recipe runs on: Debian's python3 with Debian's PyTorch (`python3-torch`),
 * NumPy, Pillow and ONNX (to read a bundle's weights back: bundle.py), and OpenBLAS (the reference BLAS is several times slower). Installed with apt
 * when missing and we are root; otherwise the error says what to install.
 */
export const TRAINING_PYTHON = process.env.SNOOPI_PYTHON ?? '/usr/bin/python3'
export const TRAINING_APT_PACKAGES = ['python3-torch', 'python3-numpy', 'python3-pil', 'python3-onnx', 'libopenblas0-pthread', 'fonts-dejavu-core']

const CHECK = 'import torch, numpy, PIL, onnx; print(torch.__version__)'
const APT_LOCK = '/tmp/snoopi-training-apt.lock'

export function trainingPythonVersion(python = TRAINING_PYTHON): string | undefined {
  if (!existsSync(python)) return undefined
  const result = spawnSync(python, ['-c', CHECK], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : undefined
}

export function ensureTrainingPython(log: (line: string) => void = console.log): string {
  const version = trainingPythonVersion()
  if (version) return TRAINING_PYTHON
  const isRoot = process.getuid?.() === 0
  if (!isRoot || !existsSync('/usr/bin/apt-get') || process.env.SNOOPI_PYTHON) {
    throw new Error(
      `${TRAINING_PYTHON} cannot import torch, numpy, PIL and onnx. Install Debian's packages: ` +
        `sudo apt-get install -y ${TRAINING_APT_PACKAGES.join(' ')} (or set SNOOPI_PYTHON to a python3 that has them)`,
    )
  }
  log(`installing the training tool chain from Debian: ${TRAINING_APT_PACKAGES.join(' ')} (about 2 minutes, once)`)
  // Test files run in parallel and may all get here: flock makes one install and the others wait,
  // then find the packages there. The package lists of a fresh machine may be stale: refresh them
  // only when the install fails.
  const install = `apt-get install -y -q ${TRAINING_APT_PACKAGES.join(' ')}`
  const script = `${TRAINING_PYTHON} -c '${CHECK}' >/dev/null 2>&1 || ${install} || { apt-get update -q && ${install}; }`
  const result = spawnSync('flock', [APT_LOCK, 'sh', '-c', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  if (result.status !== 0) throw new Error(`${install} failed (exit ${result.status ?? result.error?.message}); see its output above`)
  const installed = trainingPythonVersion()
  if (!installed) throw new Error(`installed ${TRAINING_APT_PACKAGES.join(' ')}, but ${TRAINING_PYTHON} still cannot import torch`)
  log(`PyTorch ${installed} ready`)
  return TRAINING_PYTHON
}
