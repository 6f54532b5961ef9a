import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeWithPrefix, prefix, type Colour } from './prefixed-output.ts'
import { Supervisor, type Exit } from './supervisor.ts'

export interface StackOptions {
  root: string
  edgePort: number
  gpuPort: number
  /** The GPU service's `/metrics` port (default: `gpuPort + 1`, the service's own default). */
  metricsPort?: number
  /** The secrets file both tiers read (wrangler via --env-file, the GPU service via its environment). */
  devVarsPath: string
  vars: Record<string, string>
  /** The edge's MODELS, when it must differ from wrangler.toml's (see served-models.ts). */
  models?: string
  /** Where wrangler keeps local KV/R2/D1/DO state. */
  persistTo: string
  useColour: boolean
  out?: Writable
  /** Asked when the GPU service exits on its own: start it again with backoff (true) or give up (the default). */
  restartGpu?: (exit: Exit) => boolean
  /** The orchestrator's own lines (restarts); default: to `out`. */
  log?: (line: string) => void
}

export interface Stack {
  /** The edge (wrangler dev) now: `restartEdge()` replaces it. */
  readonly edge: Supervisor
  gpu: Supervisor
  /** Stops both tiers: SIGTERM to each process group, SIGKILL after `graceMs`; resolves when both groups are gone. */
  stop: (graceMs?: number) => Promise<void>
  /** Stops the edge and starts it again with the same settings and state; the GPU service keeps running. */
  restartEdge: (graceMs?: number) => Promise<void>
}

const require = createRequire(import.meta.url)

/** The wrangler CLI the edge workspace depends on (its package exports hide the bin path). */
function wranglerBin(root: string): string {
  const manifest = require.resolve('wrangler/package.json', { paths: [join(root, 'edge')] })
  const { bin } = require(manifest) as { bin: Record<string, string> }
  return join(dirname(manifest), bin.wrangler ?? 'bin/wrangler.js')
}

/**
 * Starts both tiers as child processes in their own process groups, so stopping them is reliable. The
 * edge (wrangler) is never restarted: its exit settles `edge.gaveUp`. The GPU service is restarted with
 * backoff while `restartGpu` says so.
 */
export function startStack(options: StackOptions): Stack {
  const out = options.out ?? process.stdout
  const gpuUrl = `http://127.0.0.1:${options.gpuPort}`
  const edgeUrl = `http://127.0.0.1:${options.edgePort}`
  // Job and webhook URLs name the edge, and local webhook receivers are allowed, unless the secrets file says otherwise.
  const localVars = [
    ...(options.vars.PUBLIC_BASE_URL === undefined ? ['--var', `PUBLIC_BASE_URL:${edgeUrl}`] : []),
    ...(options.vars.WEBHOOK_ALLOW_LOOPBACK_HTTP === undefined ? ['--var', 'WEBHOOK_ALLOW_LOOPBACK_HTTP:true'] : []),
  ]
  // Everything that can throw happens before the first child starts, so a failure leaves no orphan.
  const wrangler = wranglerBin(options.root)
  mkdirSync(options.persistTo, { recursive: true })

  const launch = (name: string, colour: Colour, args: string[], env: NodeJS.ProcessEnv) => () => {
    // process.execPath is the project's Node 22 when started through npm scripts.
    const child = spawn(process.execPath, args, {
      cwd: options.root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const label = prefix(name, colour, 4, options.useColour)
    pipeWithPrefix(child.stdout, out, label)
    pipeWithPrefix(child.stderr, out, label)
    return child
  }

  const startGpu = launch('gpu', 'magenta', [join(options.root, 'gpu-service/src/main.ts')], {
    ...process.env,
    ...options.vars,
    HOST: '127.0.0.1',
    PORT: String(options.gpuPort),
    METRICS_PORT: String(options.metricsPort ?? options.gpuPort + 1),
  })
  const startEdge = launch(
    'edge',
    'cyan',
    [
      wrangler,
      'dev',
      '--config',
      join(options.root, 'wrangler.toml'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.edgePort),
      '--env-file',
      options.devVarsPath,
      '--var',
      `GPU_SERVICE_URL:${gpuUrl}`,
      ...(options.models === undefined ? [] : ['--var', `MODELS:${options.models}`]),
      ...localVars,
      '--persist-to',
      options.persistTo,
      '--show-interactive-dev-session=false',
    ],
    {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      // Local dev uses workerd's placeholder `request.cf` instead of fetching one from Cloudflare.
      CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? 'false',
      FORCE_COLOR: options.useColour ? '1' : '0',
    },
  )
  const log = options.log ?? ((line: string) => void out.write(`${line}\n`))
  const gpu = new Supervisor({ name: 'gpu service', start: startGpu, shouldRestart: options.restartGpu ?? (() => false), log })
  const newEdge = () => new Supervisor({ name: 'edge', start: startEdge, shouldRestart: () => false, log })
  let edge = newEdge()
  const stop = async (graceMs?: number) => {
    await Promise.all([edge.stop(graceMs), gpu.stop(graceMs)])
  }
  const restartEdge = async (graceMs?: number) => {
    await edge.stop(graceMs)
    edge = newEdge()
  }
  return {
    get edge() {
      return edge
    },
    gpu,
    stop,
    restartEdge,
  }
}

/** Polls `url` until it answers 200 or `timeoutMs` passes. */
export async function waitForHealthy(url: string, timeoutMs: number, gaveUp: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      if (response.ok) return true
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return false
}
