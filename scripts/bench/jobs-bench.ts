/**
 * `npm run bench:jobs`: N generation jobs submitted at once through the edge (wrangler dev: miniflare's
 * real Queues and Durable Objects) against the GPU service on the generated `tiny` bundle, next to the
 * same kind of N requests made synchronously, in one run on this machine: time to drain, jobs/s and
 * the per-job overhead of the job path. Every request has its own prompt, so nothing is a cache hit.
 */
import { ensureGeneratedBundle } from '@snoopi/gpu-service/bundle/load/default-bundle'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { ensureDevVars } from '../dev/dev-vars.ts'
import { startStack, waitForHealthy } from '../dev/local-stack.ts'
import { servedModels } from '../dev/served-models.ts'
import { freePort } from '../dev/port-check.ts'

const usage = `Usage: npm run bench:jobs [-- --jobs N --connections C]

Starts the local stack on free ports with the generated tiny bundle, then:
  1. N synchronous generations (POST /v1/images/generations), C at a time;
  2. N jobs (POST /v1/jobs) submitted at once, polled until every one has finished;
  3. N synchronous generations at once (the same burst without the queue).
Defaults: N = 200, C = 10 (the jobs queue's batch size, so both paths keep as much work in flight).`
const { values } = parseArgs({ options: { jobs: { type: 'string', default: '200' }, connections: { type: 'string', default: '10' }, help: { type: 'boolean', short: 'h' } } })
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const total = Number(values.jobs)
const connections = Number(values.connections)
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(connections) || connections < 1) {
  console.error(usage)
  process.exit(2)
}


const root = resolve(import.meta.dirname, '../..')
const bundle = ensureGeneratedBundle(join(root, '.cache/bundles'), 'tiny-v1', 'tiny', (line) => console.error(line))
const scratch = mkdtempSync(join(tmpdir(), 'snoopi-bench-jobs-'))
const devVarsPath = join(scratch, '.dev.vars')
const { vars } = ensureDevVars(devVarsPath)
const served = servedModels({ ...process.env, MODEL_DIR: bundle }, vars)
if (!served) throw new Error(`the tiny bundle at ${bundle} does not load`)
const size = (JSON.parse(served.models) as { sizes: string[] }[])[0]!.sizes[0]!
const [edgePort, gpuPort] = [await freePort(), await freePort()]
const quiet = new Writable({ write: (_c, _e, done) => done() })
const stack = startStack({ root, edgePort, gpuPort, devVarsPath, vars: { ...vars, MODEL_DIR: bundle }, models: served.models, persistTo: join(scratch, 'state'), useColour: false, out: quiet })
const edge = `http://127.0.0.1:${edgePort}`

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN
type Job = { id: string; status: string }

try {
  console.error('starting the local stack…')
  if (!(await waitForHealthy(`http://127.0.0.1:${gpuPort}/readyz`, 120_000)) || !(await waitForHealthy(`${edge}/healthz`, 120_000))) throw new Error('the local stack did not start')
  const created = await fetch(`${edge}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'bench', plan: 'enterprise' }) })
  const { key } = (await created.json()) as { key: string }
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const body = (label: string, i: number) => JSON.stringify({ prompt: `a red circle and a blue square ${label} ${i} ${Date.now()}`, size })
  // Warm both paths (isolate, Durable Objects, GPU worker) outside the measurements.
  await fetch(`${edge}/v1/images/generations`, { method: 'POST', headers, body: body('warm', 0) })
  await fetch(`${edge}/v1/jobs`, { method: 'POST', headers: { ...headers, prefer: 'wait=30' }, body: body('warm', 1) })

  /** N synchronous generations, `parallel` at a time. */
  async function synchronous(label: string, parallel: number) {
    const latencies: number[] = []
    let failed = 0
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let i = next++; i < total; i = next++) {
          const sent = performance.now()
          const response = await fetch(`${edge}/v1/images/generations`, { method: 'POST', headers, body: body(label, i) })
          await response.arrayBuffer()
          if (response.status !== 200) failed++
          latencies.push(performance.now() - sent)
        }
      }),
    )
    return { seconds: (performance.now() - started) / 1000, latencies, failed }
  }

  // 1. Synchronous: N requests, C at a time (what a well-behaved client does).
  console.error(`synchronous: ${total} requests, ${connections} at a time…`)
  const sync = await synchronous('sync', connections)
  const syncSeconds = sync.seconds

  // 2. Jobs: N submitted at once, then polled (the account's listing, 100 a page) until all have finished.
  console.error(`jobs: ${total} submitted at once…`)
  const jobsStart = performance.now()
  const submitLatencies: number[] = []
  const submitted = await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const started = performance.now()
      const response = await fetch(`${edge}/v1/jobs`, { method: 'POST', headers, body: body('job', i) })
      submitLatencies.push(performance.now() - started)
      if (response.status !== 202) throw new Error(`job ${i}: ${response.status} ${await response.text()}`)
      return ((await response.json()) as Job).id
    }),
  )
  const submitSeconds = (performance.now() - jobsStart) / 1000
  const ids = new Set(submitted)
  const statuses = new Map<string, string>()
  for (;;) {
    let after: string | undefined
    for (;;) {
      const page = (await (await fetch(`${edge}/v1/jobs?limit=100${after ? `&after=${after}` : ''}`, { headers })).json()) as { data: Job[]; has_more: boolean }
      for (const job of page.data) if (ids.has(job.id)) statuses.set(job.id, job.status)
      if (!page.has_more || page.data.length === 0) break
      after = page.data[page.data.length - 1]!.id
    }
    if ([...ids].every((id) => ['succeeded', 'failed', 'canceled'].includes(statuses.get(id) ?? ''))) break
    if (performance.now() - jobsStart > 900_000) throw new Error('the jobs did not drain within 15 minutes')
    await new Promise((r) => setTimeout(r, 200))
  }
  const drainSeconds = (performance.now() - jobsStart) / 1000
  const jobsFailed = [...ids].filter((id) => statuses.get(id) !== 'succeeded').length

  // 3. Synchronous, all at once: the burst the jobs absorbed, without a queue in front of the GPU tier.
  console.error(`synchronous: ${total} requests at once…`)
  const burst = await synchronous('burst', total)

  const perSync = (syncSeconds / total) * 1000
  const perJob = (drainSeconds / total) * 1000
  console.log(`\nJobs vs synchronous generations: ${total} each, tiny bundle (${size}), local stack under wrangler dev, this machine\n`)
  console.log('| path | wall time s | per request ms | requests/s | p50 ms | p99 ms | not succeeded |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  const row = (name: string, r: { seconds: number; latencies: number[]; failed: number }) =>
    `| ${name} | ${r.seconds.toFixed(1)} | ${((r.seconds / total) * 1000).toFixed(1)} | ${(total / r.seconds).toFixed(1)} | ${quantile(r.latencies, 0.5).toFixed(0)} | ${quantile(r.latencies, 0.99).toFixed(0)} | ${r.failed} |`
  console.log(row(`synchronous, ${connections} at a time`, sync))
  console.log(`| jobs, all at once (submit → drained) | ${drainSeconds.toFixed(1)} | ${perJob.toFixed(1)} | ${(total / drainSeconds).toFixed(1)} | ${quantile(submitLatencies, 0.5).toFixed(0)} (202) | ${quantile(submitLatencies, 0.99).toFixed(0)} (202) | ${jobsFailed} |`)
  console.log(row(`synchronous, all ${total} at once`, burst))
  console.log(`\nsubmitting all ${total} took ${submitSeconds.toFixed(1)} s; per-job overhead of the job path: ${(perJob - perSync).toFixed(1)} ms (${((perJob / perSync - 1) * 100).toFixed(0)} % over a synchronous request)`)
} finally {
  await stack.stop()
}
