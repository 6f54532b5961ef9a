/**
 * The container packaging of the GPU service, tested without a Docker engine:
 * - gpu-service/docker/entrypoint.sh, run for real with `sh` against a stand-in app;
 * - gpu-service/Dockerfile and Dockerfile.cpu, read as text: the properties that matter;
 * - the root .dockerignore, with Docker's matching rules, against the COPY sources;
 * - onnxruntime-node's installer, for the variable the Dockerfiles rely on.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_SECRET_LENGTH } from './contract/request-signature.ts'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const entrypoint = join(repoRoot, 'gpu-service/docker/entrypoint.sh')
const goodSecret = 's'.repeat(MIN_SECRET_LENGTH)

// ---------------------------------------------------------------------------------------------
// entrypoint.sh
// ---------------------------------------------------------------------------------------------

/** Prints its pid, arguments and environment as one `APP {json}` line; with --wait, stays up until SIGTERM. */
const fakeApp = `
const args = process.argv.slice(2)
const names = ['DEVICE', 'HOST', 'PORT', 'METRICS_PORT', 'MODEL_DIR', 'MODEL_S3_URI', 'MODEL_CACHE_DIR', 'GPU_SERVICE_SECRET']
const env = Object.fromEntries(names.map((name) => [name, process.env[name] ?? null]))
console.log('APP ' + JSON.stringify({ pid: process.pid, args, env }))
if (args.includes('--wait')) {
  process.on('SIGTERM', () => {
    console.log('APP SIGTERM')
    process.exit(0)
  })
  setInterval(() => {}, 1000)
  console.log('APP READY')
}
`

interface AppReport {
  pid: number
  args: string[]
  env: Record<string, string | null>
}

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  pid: number | undefined
  app: AppReport | undefined
}

let workDir: string
let appPath: string
let cacheDir: string

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'snoopi-entrypoint-'))
  appPath = join(workDir, 'app.mjs')
  writeFileSync(appPath, fakeApp)
  cacheDir = join(workDir, 'cache')
})
afterAll(() => rmSync(workDir, { recursive: true, force: true }))

function appReport(stdout: string): AppReport | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('APP {'))
  return line === undefined ? undefined : (JSON.parse(line.slice('APP '.length)) as AppReport)
}

/**
 * Runs the entrypoint with `sh` and a clean environment (never the developer's: no stray secret or
 * MODEL_DIR), SNOOPI_NODE/SNOOPI_APP pointing at this Node and the stand-in app. `onStdout` sees
 * the output as it comes, with the child, so a test can signal it.
 */
function runEntrypoint(
  env: Record<string, string | undefined>,
  args: string[] = [],
  onStdout?: (stdout: string, child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    SNOOPI_NODE: process.execPath,
    SNOOPI_APP: appPath,
    MODEL_CACHE_DIR: cacheDir,
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete fullEnv[name]
    else fullEnv[name] = value
  }
  const child = spawn('sh', [entrypoint, ...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    onStdout?.(stdout, child)
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid, app: appReport(stdout) }))
  })
}

describe('gpu-service/docker/entrypoint.sh', () => {
  it('refuses to start without GPU_SERVICE_SECRET: exit 64 and a message naming it', async () => {
    const run = await runEntrypoint({})
    expect(run.code).toBe(64)
    expect(run.stderr).toContain('GPU_SERVICE_SECRET is required')
    expect(run.stderr).toContain(`at least ${MIN_SECRET_LENGTH} characters`)
    expect(run.app).toBeUndefined()
  })

  it('treats an empty GPU_SERVICE_SECRET as missing', async () => {
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: '' })
    expect(run.code).toBe(64)
    expect(run.stderr).toContain('GPU_SERVICE_SECRET is required')
  })

  it('refuses a secret shorter than the service accepts: exit 64, without printing the secret', async () => {
    const short = 'x'.repeat(MIN_SECRET_LENGTH - 1)
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: short })
    expect(run.code).toBe(64)
    expect(run.stderr).toContain(`GPU_SERVICE_SECRET must be at least ${MIN_SECRET_LENGTH} characters (it has ${MIN_SECRET_LENGTH - 1})`)
    expect(run.stderr + run.stdout).not.toContain(short)
    expect(run.app).toBeUndefined()
  })

  it('uses the same minimum secret length as the service (MIN_SECRET_LENGTH)', () => {
    const script = readFileSync(entrypoint, 'utf8')
    expect(script).toMatch(/^min_secret_length=(\d+)$/m)
    expect(Number(/^min_secret_length=(\d+)$/m.exec(script)?.[1])).toBe(MIN_SECRET_LENGTH)
  })

  it('with a good environment runs the app with the arguments and environment passed through', async () => {
    const args = ['--flag', 'two words', '$HOME', '*', '']
    const run = await runEntrypoint(
      { GPU_SERVICE_SECRET: goodSecret, DEVICE: 'cuda', HOST: '0.0.0.0', PORT: '8788', MODEL_DIR: '/models/sd-turbo' },
      args,
    )
    expect(run.code).toBe(0)
    expect(run.app?.args).toEqual(args)
    expect(run.app?.env).toMatchObject({
      GPU_SERVICE_SECRET: goodSecret,
      DEVICE: 'cuda',
      HOST: '0.0.0.0',
      PORT: '8788',
      MODEL_DIR: '/models/sd-turbo',
      MODEL_CACHE_DIR: cacheDir,
    })
    expect(run.stderr).toContain(`starting the GPU service: node ${process.version}, device cuda, 0.0.0.0:8788, /metrics on port 8789`)
    expect(run.stderr).not.toContain(goodSecret) // the entrypoint's own lines never show it
    expect(run.stderr).not.toContain('warning')
  })

  it.each<[{ PORT: string; METRICS_PORT?: string }, string]>([
    [{ PORT: '9000' }, '9001'],
    [{ PORT: '0' }, '0'],
    [{ PORT: '9000', METRICS_PORT: '9464' }, '9464'],
  ])('says where /metrics listens (%o → %s) and passes METRICS_PORT through', async (ports, metricsPort) => {
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret, MODEL_DIR: '/models/x', ...ports })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`:${ports.PORT}, /metrics on port ${metricsPort}`)
    expect(run.app?.env.METRICS_PORT).toBe(ports.METRICS_PORT ?? null)
  })

  it('replaces itself with node (exec): same pid, and SIGTERM sent to it reaches the app', async () => {
    let signalled = false
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret, MODEL_DIR: '/models/x' }, ['--wait'], (stdout, child) => {
      if (!signalled && stdout.includes('APP READY')) {
        signalled = true
        child.kill('SIGTERM')
      }
    })
    expect(signalled).toBe(true)
    // The app's pid is the pid of the `sh` we spawned: the shell was replaced, not a parent.
    expect(run.app?.pid).toBe(run.pid)
    expect(run.stdout).toContain('APP SIGTERM')
    // The app's handler chose the exit status; a shell killed by the signal would report it instead.
    expect(run.signal).toBeNull()
    expect(run.code).toBe(0)
  })

  it('warns when neither MODEL_DIR nor MODEL_S3_URI is set (the built-in default model, a small trained student, is served)', async () => {
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('warning: neither MODEL_DIR nor MODEL_S3_URI is set')
    expect(run.stderr).toContain('serving the built-in default model (gpu-service/assets/default-bundle, a one-step PG-SB student')
    expect(run.stderr).not.toContain('random weights')
    expect(run.app).toBeDefined()
  })

  it('does not warn when MODEL_S3_URI is set', async () => {
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret, MODEL_S3_URI: 's3://bucket/bundle/' })
    expect(run.code).toBe(0)
    expect(run.stderr).not.toContain('warning')
    expect(run.app?.env.MODEL_S3_URI).toBe('s3://bucket/bundle/')
  })

  it('creates MODEL_CACHE_DIR, and stops with exit 73 when it cannot be a writable folder', async () => {
    const nested = join(workDir, 'new', 'cache')
    const ok = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret, MODEL_CACHE_DIR: nested })
    expect(ok.code).toBe(0)
    expect(statSync(nested).isDirectory()).toBe(true)

    const aFile = join(workDir, 'a-file')
    writeFileSync(aFile, '')
    const bad = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret, MODEL_CACHE_DIR: join(aFile, 'cache') })
    expect(bad.code).toBe(73)
    expect(bad.stderr).toContain('is not a folder that uid')
    expect(bad.app).toBeUndefined()
  })

  it('stops with exit 127 and a message when node cannot be run', async () => {
    const run = await runEntrypoint({ GPU_SERVICE_SECRET: goodSecret, SNOOPI_NODE: join(workDir, 'no-such-node') })
    expect(run.code).toBe(127)
    expect(run.stderr).toContain('cannot run node')
  })
})

// ---------------------------------------------------------------------------------------------
// Dockerfiles
// ---------------------------------------------------------------------------------------------

interface Instruction {
  keyword: string
  args: string
}

/** Dockerfile instructions: comments dropped, `\` continuations joined, keywords upper-cased. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = []
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    const continued = line.endsWith('\\')
    pending += (pending ? ' ' : '') + (continued ? line.slice(0, -1).trim() : line)
    if (continued) continue
    const match = /^(\S+)\s*(.*)$/s.exec(pending)
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]! })
    pending = ''
  }
  return instructions
}

/** Flags (`--name=value`) and the remaining words of an instruction. */
function splitFlags(args: string): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>()
  const rest: string[] = []
  for (const word of args.split(/\s+/).filter(Boolean)) {
    const flag = /^--([a-z-]+)(?:=(.*))?$/.exec(word)
    if (flag && rest.length === 0) flags.set(flag[1]!, flag[2] ?? '')
    else rest.push(word)
  }
  return { flags, rest }
}

/** `KEY=value` pairs of an ENV (or ARG) instruction; values here are never quoted or spaced. */
function assignments(args: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const word of args.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=')
    if (eq > 0) map.set(word.slice(0, eq), word.slice(eq + 1))
  }
  return map
}

interface Dockerfile {
  path: string
  text: string
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>
  stages: { from: string; name: string | undefined; instructions: Instruction[] }[]
  final: Instruction[]
}

function loadDockerfile(relativePath: string): Dockerfile {
  const text = readFileSync(join(repoRoot, relativePath), 'utf8')
  const globalArgs = new Map<string, string>()
  const stages: Dockerfile['stages'] = []
  for (const instruction of parseDockerfile(text)) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/)
      stages.push({ from: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') for (const [key, value] of assignments(instruction.args)) globalArgs.set(key, value)
    } else {
      stages.at(-1)!.instructions.push(instruction)
    }
  }
  return { path: relativePath, text, globalArgs, stages, final: stages.at(-1)?.instructions ?? [] }
}

/** `${NAME}` references replaced by the global ARG defaults. */
function expand(value: string, args: Map<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => args.get(a ?? b ?? '') ?? whole)
}

const all = (d: Dockerfile, keyword: string) => d.stages.flatMap((s) => s.instructions).filter((i) => i.keyword === keyword)
const inFinal = (d: Dockerfile, keyword: string) => d.final.filter((i) => i.keyword === keyword)

/** The project's Node version: the root devDependency `node`, as locked. */
function lockedNodeVersion(): string {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>
  }
  const version = lock.packages['node_modules/node']?.version
  if (!version) throw new Error('package-lock.json has no node_modules/node')
  return version
}

// ---- .dockerignore, with Docker's rules: the last matching line wins; a line matches a path or any
// of its parent folders; `*` and `?` stay within one path segment, `**` spans any number of them. ----

interface IgnoreRule {
  negate: boolean
  regex: RegExp
}

function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  for (const raw of text.split('\n')) {
    let line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const negate = line.startsWith('!')
    if (negate) line = line.slice(1).trim()
    line = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '')
    let source = ''
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!
      if (c === '*' && line[i + 1] === '*') {
        if (line[i + 2] === '/') {
          source += '(?:.*/)?'
          i += 2
        } else {
          source += '.*'
          i += 1
        }
      } else if (c === '*') source += '[^/]*'
      else if (c === '?') source += '[^/]'
      else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    }
    rules.push({ negate, regex: new RegExp(`^${source}$`) })
  }
  return rules
}

function isIgnored(rules: IgnoreRule[], path: string): boolean {
  const parts = path.split('/')
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let ignored = false
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = !rule.negate
  }
  return ignored
}

const dockerignoreText = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
const ignoreRules = parseDockerignore(dockerignoreText)

/** Every file of the checkout that would be sent as the build context (node_modules, .git, caches pruned). */
function buildContextFiles(): string[] {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (['node_modules', '.git', '.cache', '.wrangler'].includes(entry.name)) continue
        walk(path)
      } else if (!isIgnored(ignoreRules, path)) files.push(path)
    }
  }
  walk('')
  return files
}

/**
 * The repository files a module loads, transitively: relative static and dynamic imports, and
 * `new URL('./x.ts', import.meta.url)` (how the pipeline's worker thread is started).
 */
function runtimeImports(entries: string[]): string[] {
  const seen = new Set<string>()
  const pending = [...entries]
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue
    seen.add(file)
    const text = readFileSync(join(repoRoot, file), 'utf8')
    for (const [, target] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bnew URL\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const path = relative(repoRoot, join(repoRoot, dirname(file), target!))
      if (existsSync(join(repoRoot, path)) && statSync(join(repoRoot, path)).isFile()) pending.push(path)
    }
  }
  return [...seen].sort()
}

const gpu = loadDockerfile('gpu-service/Dockerfile')
const cpu = loadDockerfile('gpu-service/Dockerfile.cpu')

describe.each([
  { name: 'Dockerfile (GPU)', dockerfile: gpu, device: 'cuda' },
  { name: 'Dockerfile.cpu', dockerfile: cpu, device: 'cpu' },
])('gpu-service/$name', ({ dockerfile: d, device }) => {
  it('is multi-stage: npm runs in a build stage on the project Node version, pinned', () => {
    expect(d.text.startsWith('# syntax=docker/dockerfile:1\n')).toBe(true) // COPY --chmod needs BuildKit
    expect(d.globalArgs.get('NODE_VERSION')).toBe(lockedNodeVersion())
    expect(d.stages.length).toBeGreaterThanOrEqual(2)
    expect(expand(d.stages[0]!.from, d.globalArgs)).toBe(`node:${lockedNodeVersion()}-bookworm-slim`)
    expect(d.stages[0]!.name).toBe('deps')
    // No npm in the final stage: it only copies the installed node_modules.
    expect(d.final.some((i) => i.keyword === 'RUN' && /\bnpm\b/.test(i.args))).toBe(false)
  })

  it('installs from the lockfile (npm ci) only the gpu-service workspace, without devDependencies', () => {
    const deps = d.stages[0]!.instructions
    const ciIndex = deps.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))
    expect(ciIndex).toBeGreaterThan(0)
    const ci = deps[ciIndex]!.args
    expect(ci).toContain('--omit=dev')
    expect(ci).toContain('--workspace @snoopi/gpu-service')
    expect(ci).toContain('--include-workspace-root=false')
    expect(d.text).not.toMatch(/npm (install|i)\b/)
    const copiedBefore = deps
      .slice(0, ciIndex)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => splitFlags(i.args).rest.slice(0, -1))
    expect(copiedBefore).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'gpu-service/package.json']))
    // npm ci checks the lockfile against every workspace's manifest.
    const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] }
    for (const workspace of root.workspaces) expect(copiedBefore).toContain(`${workspace}/package.json`)
  })

  it('runs as the non-root uid 10001, with MODEL_CACHE_DIR a folder that user owns', () => {
    const users = inFinal(d, 'USER')
    expect(users.length).toBeGreaterThan(0)
    const user = users.at(-1)!.args.trim()
    expect(user).toMatch(/^10001(:10001)?$/)
    const env = new Map(inFinal(d, 'ENV').flatMap((i) => [...assignments(i.args)]))
    expect(env.get('MODEL_CACHE_DIR')).toBe('/var/cache/snoopi')
    const runs = inFinal(d, 'RUN').map((i) => i.args).join('\n')
    expect(runs).toMatch(/useradd [^\n]*--uid 10001/)
    expect(runs).toMatch(/chown 10001:10001 \/var\/cache\/snoopi/)
  })

  it(`listens on 0.0.0.0:8788 (/metrics on 8789) with DEVICE=${device}, and bakes in no secret`, () => {
    const env = new Map(inFinal(d, 'ENV').flatMap((i) => [...assignments(i.args)]))
    expect(env.get('HOST')).toBe('0.0.0.0')
    expect(env.get('PORT')).toBe('8788')
    expect(env.get('DEVICE')).toBe(device)
    expect(inFinal(d, 'EXPOSE').map((i) => i.args.trim())).toContain('8788')
    // /metrics has a port of its own (never the API's), exposed for an in-network scraper.
    expect(env.get('METRICS_PORT')).toBe('8789')
    expect(inFinal(d, 'EXPOSE').map((i) => i.args.trim())).toContain('8789')
    for (const i of [...all(d, 'ENV'), ...all(d, 'ARG'), ...all(d, 'LABEL')]) expect(i.args).not.toMatch(/SECRET/)
  })

  it('checks health on /readyz with node (no curl), with a start period', () => {
    const checks = inFinal(d, 'HEALTHCHECK')
    expect(checks).toHaveLength(1)
    const check = checks[0]!.args
    const { flags } = splitFlags(check)
    expect(flags.get('start-period')).toMatch(/^\d+s$/)
    expect(Number.parseInt(flags.get('start-period')!, 10)).toBeGreaterThanOrEqual(120)
    const command = JSON.parse(check.slice(check.indexOf('CMD') + 3).trim()) as string[]
    expect(command[0]).toBe('node')
    expect(command.join(' ')).toContain('/readyz')
    expect(command.join(' ')).toContain('process.env.PORT')
    expect(check).not.toMatch(/curl|wget/)
  })

  it('starts through tini and the entrypoint script (exec form), copied executable', () => {
    const entrypoints = inFinal(d, 'ENTRYPOINT')
    expect(entrypoints).toHaveLength(1)
    const argv = JSON.parse(entrypoints[0]!.args) as string[]
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/tini', '--'])
    const copy = inFinal(d, 'COPY').find((i) => splitFlags(i.args).rest[0] === 'gpu-service/docker/entrypoint.sh')
    expect(copy).toBeDefined()
    const { flags, rest } = splitFlags(copy!.args)
    expect(flags.get('chmod')).toBe('0755')
    expect(argv[2]).toBe(rest[1])
    expect(inFinal(d, 'RUN').some((i) => /apt-get install [^\n]*\btini\b/.test(i.args))).toBe(true)
  })

  it('copies named paths only: no `COPY . .`, no secrets, every source present and inside the build context', () => {
    for (const copy of all(d, 'COPY').concat(all(d, 'ADD'))) {
      expect(copy.keyword).toBe('COPY')
      const { flags, rest } = splitFlags(copy.args)
      if (flags.has('from')) continue
      const sources = rest.slice(0, -1)
      expect(sources.length).toBeGreaterThan(0)
      for (const source of sources) {
        expect(source).not.toMatch(/^\.\/?$|\*|\.dev\.vars|\.env|\.git\b/)
        expect(existsSync(join(repoRoot, source)), `${d.path}: COPY ${source} exists`).toBe(true)
        expect(isIgnored(ignoreRules, source), `${d.path}: COPY ${source} is excluded by .dockerignore`).toBe(false)
      }
    }
  })
})

describe('gpu-service/Dockerfile: onnxruntime-node with CUDA 12 on CUDA 12 + cuDNN 9', () => {
  it('runs on an NVIDIA CUDA 12 runtime image with cuDNN (9: the only cuDNN of the CUDA 12.x cudnn tags)', () => {
    const runtime = expand(gpu.stages.at(-1)!.from, gpu.globalArgs)
    expect(runtime).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.04$/)
  })

  it('installs the CUDA 12 execution provider with ORT’s installer and checks the files are there', () => {
    const runs = gpu.stages[0]!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)
    const install = runs.find((r) => r.includes('onnxruntime-node/script/install.js'))
    expect(install).toBeDefined()
    expect(install).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js')
    expect(install).toContain('libonnxruntime_providers_cuda.so')
    expect(install).toContain('libonnxruntime_providers_shared.so')
  })
})

describe('gpu-service/Dockerfile.cpu', () => {
  it('skips the CUDA install and never asks for cuda12', () => {
    const runs = all(cpu, 'RUN').map((i) => i.args)
    expect(runs.find((r) => /\bnpm ci\b/.test(r))).toContain('ONNXRUNTIME_NODE_INSTALL=skip')
    expect(runs.join('\n')).not.toContain('cuda12')
    expect(runs.join('\n')).not.toContain('script/install.js')
    expect(expand(cpu.stages.at(-1)!.from, cpu.globalArgs)).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/)
  })
})

describe('.dockerignore', () => {
  it('excludes secrets, local installs, caches, VCS data and tests', () => {
    for (const path of [
      '.dev.vars',
      '.dev.vars.production',
      'gpu-service/.dev.vars',
      '.env',
      '.git/HEAD',
      'node_modules/hono/package.json',
      'gpu-service/node_modules/@img/x',
      '.cache/bundles/bench-v1/snoopi.json',
      '.wrangler/state/v3/d1',
      'coverage/index.html',
      'gpu-service/src/docker-entrypoint.test.ts',
      'gpu-service/src/http/app.test.ts',
      'gpu-service/src/testing/bundles.ts',
      'gpu-service/src/testing/clip/tokenizer-cases.json',
      'edge/src/index.ts',
      'infra/README.md',
      'wrangler.toml',
      'npm-debug.log',
    ]) {
      expect(isIgnored(ignoreRules, path), path).toBe(true)
    }
  })

  it('keeps what the images need', () => {
    for (const path of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'gpu-service/package.json',
      'gpu-service/src/main.ts',
      'gpu-service/src/config/service-config.ts',
      'gpu-service/assets/clip/bpe_simple_vocab_16e6.txt.gz',
      'gpu-service/docker/entrypoint.sh',
    ]) {
      expect(isIgnored(ignoreRules, path), path).toBe(false)
    }
  })

  it('keeps every file the service (and the CLI) loads at run time, none of them a test helper', () => {
    const loaded = runtimeImports(['gpu-service/src/main.ts', 'gpu-service/src/cli/main.ts'])
    expect(loaded).toContain('gpu-service/src/pipeline/pipeline-worker.ts') // started by URL, not imported
    expect(loaded.filter((f) => f.includes('/testing/') || f.endsWith('.test.ts'))).toEqual([])
    expect(loaded.filter((f) => isIgnored(ignoreRules, f))).toEqual([])
  })

  it('sends only manifests, the service sources and assets, and the entrypoint as the build context', () => {
    const files = buildContextFiles()
    expect(files).toContain('gpu-service/src/main.ts')
    const allowed = /^(package\.json|package-lock\.json|\.npmrc|(edge|test|infra|gpu-service)\/package\.json|gpu-service\/(src|assets)\/.+|gpu-service\/docker\/entrypoint\.sh)$/
    expect(files.filter((f) => !allowed.test(f))).toEqual([])
    expect(files.filter((f) => f.endsWith('.test.ts') || f.includes('/testing/'))).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------
// onnxruntime-node's installer (node_modules/onnxruntime-node/script/install-utils.js)
// ---------------------------------------------------------------------------------------------

describe('onnxruntime-node install flag, as the Dockerfiles use it', () => {
  const ortScripts = join(repoRoot, 'node_modules/onnxruntime-node/script')

  /** parseInstallFlag() in a fresh process with exactly `env`: false = skip, true = force, undefined = default. */
  function installFlag(env: Record<string, string>): unknown {
    const result = spawnSync(
      process.execPath,
      ['-e', `const f = require(${JSON.stringify(join(ortScripts, 'install-utils.js'))}).parseInstallFlag(); console.log(JSON.stringify(f === undefined ? 'default' : f))`],
      { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
    )
    expect(result.status, result.stderr).toBe(0)
    return JSON.parse(result.stdout) as unknown
  }

  it('the .npmrc setting (npm_config_onnxruntime_node_install=skip) skips, as does ONNXRUNTIME_NODE_INSTALL=skip', () => {
    expect(installFlag({ npm_config_onnxruntime_node_install: 'skip' })).toBe(false)
    expect(installFlag({ ONNXRUNTIME_NODE_INSTALL: 'skip' })).toBe(false)
  })

  it('ONNXRUNTIME_NODE_INSTALL=cuda12 wins over the .npmrc skip, and linux/x64 then installs the CUDA 12 provider files', () => {
    // 1.30's parseInstallFlag returns `undefined` (the default) for "cuda12" rather than the string;
    // either way it is not a skip, and the default on linux/x64 is the cuda12 manifest.
    const flag = installFlag({ ONNXRUNTIME_NODE_INSTALL: 'cuda12', npm_config_onnxruntime_node_install: 'skip' })
    expect(['default', 'cuda12']).toContain(flag)
    const metadata = spawnSync(
      process.execPath,
      ['-e', `console.log(JSON.stringify(require(${JSON.stringify(join(ortScripts, 'install-metadata.js'))})))`],
      { encoding: 'utf8' },
    )
    const { requirements, manifests } = JSON.parse(metadata.stdout) as {
      requirements: Record<string, string[]>
      manifests: Record<string, Record<string, unknown>>
    }
    expect(requirements['linux/x64']).toContain('cuda12')
    expect(Object.keys(manifests['linux/x64:cuda12'] ?? {})).toEqual(
      expect.arrayContaining(['./libonnxruntime_providers_cuda.so', './libonnxruntime_providers_shared.so']),
    )
  })
})
