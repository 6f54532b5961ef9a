/**
 * `npm start`: the whole product on this machine. Runs the edge worker under `wrangler dev` (workerd,
 * local bindings) and the GPU service together, with prefixed logs. Checks both ports first; restarts
 * the GPU service with backoff when it dies; stops both tiers on SIGINT/SIGTERM/SIGHUP, when the edge
 * exits, and when a process in front of it (npm, the `sh -c` npm runs) ends.
 */
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { watchAncestors } from './dev/ancestors.ts'
import { ensureDevVars } from './dev/dev-vars.ts'
import { startStack, waitForHealthy } from './dev/local-stack.ts'
import { portsInUse } from './dev/port-check.ts'
import { servedModels } from './dev/served-models.ts'
import { describeExit } from './dev/supervisor.ts'

const usage = `Usage: npm start [-- options]

Starts the SNOOPI image API locally: the edge worker (wrangler dev) and the GPU service.

Options:
  --edge-port <n>   port of the public API (default 8787, env EDGE_PORT)
  --gpu-port <n>    port of the GPU service (default 8788, env GPU_PORT)
  --metrics-port <n> the GPU service's /metrics (default the GPU port + 1, env METRICS_PORT)
  --dev-vars <file> local secrets file, created with a random secret when missing (default .dev.vars);
                    the edge also gets PUBLIC_BASE_URL=<its URL> and WEBHOOK_ALLOW_LOOPBACK_HTTP=true
                    unless this file sets them
  --persist-to <d>  where wrangler keeps local KV/R2/D1/Durable Object state (default .wrangler/state)
  --ready-timeout <s> seconds to wait for the edge's /healthz and the GPU service's /readyz
                    (model loaded and warmed up; default 90)
  -h, --help        show this help

All three ports are checked first: a port in use stops npm start before anything starts.
Ctrl-C (SIGINT), SIGTERM or SIGHUP, to npm or to this script, stops both tiers (SIGKILL after 10 s),
and so does the end of npm. The GPU service is restarted when it dies after the start (1 s, 2 s, 4 s …
up to 30 s between tries; the edge answers 503 meanwhile); when the edge exits, both tiers stop and
npm start exits non-zero.`

function fail(message: string): never {
  console.error(`npm start: ${message}\n\n${usage}`)
  process.exit(2)
}

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`${name} must be a port number 1–65535, got "${value}"`)
  return n
}

async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0])
  if (major < 22) fail(`Node ${process.version} is running this script; run it through npm so the project's Node 22 is used`)

  let values
  try {
    ;({ values } = parseArgs({
      options: {
        'edge-port': { type: 'string' },
        'gpu-port': { type: 'string' },
        'metrics-port': { type: 'string' },
        'dev-vars': { type: 'string' },
        'persist-to': { type: 'string' },
        'ready-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    fail((error as Error).message)
  }
  if (values.help) {
    console.log(usage)
    return
  }

  const root = resolve(import.meta.dirname, '..')
  const edgePort = port(values['edge-port'] ?? process.env.EDGE_PORT, 8787, '--edge-port')
  const gpuPort = port(values['gpu-port'] ?? process.env.GPU_PORT, 8788, '--gpu-port')
  const metricsPort = port(values['metrics-port'] ?? process.env.METRICS_PORT, gpuPort + 1, '--metrics-port')
  if (new Set([edgePort, gpuPort, metricsPort]).size < 3) fail('--edge-port, --gpu-port and --metrics-port must differ')
  const readySeconds = Number(values['ready-timeout'] ?? 90)
  if (!(readySeconds > 0)) fail('--ready-timeout must be a positive number of seconds')
  const taken = await portsInUse([
    { port: edgePort, option: '--edge-port' },
    { port: gpuPort, option: '--gpu-port' },
    { port: metricsPort, option: '--metrics-port' },
  ])
  if (taken.length > 0) {
    for (const line of taken) console.error(`npm start: ${line}`)
    process.exit(1)
  }
  const devVarsPath = resolve(values['dev-vars'] ?? join(root, '.dev.vars'))
  const { vars, created, added } = ensureDevVars(devVarsPath)
  if (added.length > 0) console.log(`${created ? 'created' : 'updated'} ${devVarsPath}: random local ${added.join(', ')}`)

  // The edge caches images under the served bundle's version, whatever wrangler.toml says.
  const served = servedModels({ ...process.env, ...vars }, vars)
  if (served) console.log(`the edge accepts ${served.models}`)

  // Output to a closed terminal or pipe must not crash this script and orphan both tiers.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})

  let up = false
  let stopping = false
  const stack = startStack({
    root,
    edgePort,
    gpuPort,
    metricsPort,
    devVarsPath,
    vars,
    models: served?.models,
    persistTo: resolve(values['persist-to'] ?? join(root, '.wrangler/state')),
    useColour: process.stdout.isTTY === true && !process.env.NO_COLOR,
    // Before the stack is up a dying GPU service is a start failure (a bad setting, a broken bundle):
    // restarting would only repeat it. After, the edge stays up and the GPU service comes back.
    restartGpu: () => up && !stopping,
    log: (line) => console.log(line),
  })

  const shutdown = async (code: number, why?: string) => {
    if (stopping) return
    stopping = true
    stopWatching()
    if (why) console.log(why)
    await stack.stop()
    process.exit(code)
  }
  process.on('SIGINT', () => void shutdown(0, '\nSIGINT: stopping both tiers…'))
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM: stopping both tiers…'))
  process.on('SIGHUP', () => void shutdown(0, 'SIGHUP: stopping both tiers…'))
  const stopWatching = watchAncestors((who) => void shutdown(0, `${who} ended: stopping both tiers…`))
  void stack.edge.gaveUp.then((exit) => shutdown(1, `edge exited (${describeExit(exit)}); stopping the GPU service`))
  void stack.gpu.gaveUp.then((exit) => shutdown(1, `gpu service exited (${describeExit(exit)}) before it was ready; stopping the edge`))

  const edgeUrl = `http://127.0.0.1:${edgePort}`
  const gpuUrl = `http://127.0.0.1:${gpuPort}`
  const ready = await Promise.all([
    waitForHealthy(`${gpuUrl}/readyz`, readySeconds * 1000, () => stopping),
    waitForHealthy(`${edgeUrl}/healthz`, readySeconds * 1000, () => stopping),
  ])
  if (stopping) return
  if (!ready.every(Boolean)) {
    await shutdown(1, `the local stack did not become ready within ${readySeconds}s (see the logs above)`)
    return
  }
  up = true
  console.log(
    [
      '',
      'SNOOPI image API is running',
      `  public API (edge):  ${edgeUrl}`,
      `  GPU service:        ${gpuUrl}  (signed requests only, besides /healthz and /readyz)`,
      `  GPU metrics:        http://127.0.0.1:${metricsPort}/metrics`,
      '',
      'Open in a browser (an API key from the admin route below goes in the API key field):',
      `  playground: ${edgeUrl}/playground`,
      `  API docs:   ${edgeUrl}/docs`,
      '',
      'Try:',
      `  curl -s ${edgeUrl}/v1/models`,
      '  # create an API key (the admin token is ADMIN_TOKEN in ' + devVarsPath + '):',
      `  curl -s -X POST ${edgeUrl}/admin/keys -H "authorization: Bearer ${vars.ADMIN_TOKEN ?? '$ADMIN_TOKEN'}" -H 'content-type: application/json' -d '{"owner":"me"}'`,
      '  # then generate (put the key from the answer in KEY):',
      `  curl -s ${edgeUrl}/v1/images/generations -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"prompt":"a red circle and a blue square","negative_prompt":"blue square","size":"32x32"}'`,
      '  # or as a job (answered at once; Prefer: wait holds the answer until it is done):',
      `  curl -s ${edgeUrl}/v1/jobs -H "authorization: Bearer $KEY" -H 'content-type: application/json' -H 'prefer: wait=10' -d '{"prompt":"a blue circle"}'`,
      '',
      'Ctrl-C stops both tiers; the GPU service is restarted if it dies.',
      '',
    ].join('\n'),
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
