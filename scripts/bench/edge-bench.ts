/**
 * `npm run bench:edge`: cache hits through the edge worker under `wrangler dev` (workerd), measured
 * side by side with a trivial route of the same worker (`GET /healthz`) as the baseline, plus the CDN
 * image URL. Starts the whole local stack on free ports, creates an API key, warms one generation.
 */
import autocannon from 'autocannon'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureDevVars } from '../dev/dev-vars.ts'
import { startStack, waitForHealthy } from '../dev/local-stack.ts'
import { freePort } from '../dev/port-check.ts'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
    root: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(
    'Usage: npm run bench:edge [-- --duration S --connections C --rounds R --root DIR]\n\nDefaults: 10 s per run, 16 connections, 2 interleaved rounds.\n--root: the checkout whose edge and GPU service run (default this one), e.g. a git worktree of an older commit, to measure before and after with the same load generator.',
  )
  process.exit(0)
}
const duration = Number(values.duration)
const connections = Number(values.connections)
const rounds = Number(values.rounds)


const root = resolve(values.root ?? resolve(import.meta.dirname, '../..'))
const scratch = mkdtempSync(join(tmpdir(), 'snoopi-bench-edge-'))
const devVarsPath = join(scratch, '.dev.vars')
const { vars } = ensureDevVars(devVarsPath)
const [edgePort, gpuPort] = [await freePort(), await freePort()]
const quiet = new (await import('node:stream')).Writable({ write: (_c, _e, done) => done() })
const stack = startStack({ root, edgePort, gpuPort, devVarsPath, vars, persistTo: join(scratch, 'state'), useColour: false, out: quiet })
const edge = `http://127.0.0.1:${edgePort}`
try {
  console.error('starting the local stack…')
  if (!(await waitForHealthy(`http://127.0.0.1:${gpuPort}/readyz`, 120_000)) || !(await waitForHealthy(`${edge}/healthz`, 120_000))) throw new Error('the local stack did not start')
  const created = await fetch(`${edge}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'bench', plan: 'enterprise' }) })
  const { key } = (await created.json()) as { key: string }
  const body = JSON.stringify({ prompt: 'a red circle and a blue square', size: '32x32' })
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const warm = (await (await fetch(`${edge}/v1/images/generations`, { method: 'POST', headers, body })).json()) as { data: { url: string }[] }
  const imagePath = new URL(warm.data[0]!.url).pathname

  const targets = {
    'static route (GET /healthz)': { method: 'GET' as const, path: '/healthz' },
    // The hit path's parts, by subtraction: an authenticated route (one Durable Object call) …
    'authenticated read (GET /v1/usage)': { method: 'GET' as const, path: '/v1/usage', headers: { authorization: headers.authorization } },
    'generation, cache hit (POST /v1/images/generations)': { method: 'POST' as const, path: '/v1/images/generations', headers, body },
    'image URL (GET /v1/images/…)': { method: 'GET' as const, path: imagePath },
  }
  type Name = keyof typeof targets
  const results = new Map<Name, { rps: number[]; p50: number[]; p99: number[]; non2xx: number }>()
  for (let round = 1; round <= rounds; round++) {
    for (const [name, request] of Object.entries(targets) as [Name, (typeof targets)[Name]][]) {
      const r = await autocannon({ url: edge, connections, duration, requests: [request] })
      const entry = results.get(name) ?? { rps: [], p50: [], p99: [], non2xx: 0 }
      entry.rps.push(r.requests.average)
      entry.p50.push(r.latency.p50)
      entry.p99.push(r.latency.p99)
      entry.non2xx += r.non2xx + r.errors
      results.set(name, entry)
      console.error(`round ${round}: ${name}: ${r.requests.average.toFixed(0)} req/s`)
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const base = mean(results.get('static route (GET /healthz)')!.rps)
  console.log(`\nEdge under wrangler dev (workerd), ${connections} connections, ${rounds} interleaved rounds of ${duration} s, this machine${values.root ? ` (checkout ${root})` : ''}\n`)
  console.log('| route | requests/s | × static route | p50 ms | p99 ms | non-2xx |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const [name, r] of results) {
    console.log(`| ${name} | ${mean(r.rps).toFixed(0)} | ${(mean(r.rps) / base).toFixed(2)} | ${mean(r.p50).toFixed(0)} | ${mean(r.p99).toFixed(0)} | ${r.non2xx} |`)
  }
} finally {
  await stack.stop()
}
