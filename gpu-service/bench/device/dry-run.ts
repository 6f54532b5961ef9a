/**
 * `npm run bench:device:dry-run`: the device run's Node twin on this machine. Prepares a small preset's
 * carry exactly as for sd21 (structure-only fp32 and fp16 bundles, NASA/NASA-proj/NAG rewrites),
 * writes the weights with write_weights.py (NumPy) and checks them against the TypeScript writer,
 * then runs plan.json's groups on onnxruntime-node's CPU provider through the service's own session
 * code and writes the device run's JSON schema.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, platform, release } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createRequire } from 'node:module'
import { toFloat16Array } from '../../src/onnx/float16.ts'
import { fileSha256, manifestSha256, readManifest, writeWeightData } from '../../src/onnx/weight-manifest.ts'
import { createSession, disposeSession, runSession, tensor, type Feeds, type LoadedSession } from '../../src/runtime/onnx-backend.ts'
import { prepareCarry, type CarryIndex, type Dtype } from './carry.ts'
import { feedArrays, groupCases, loadPlan, RESULT_SCHEMA, runGroup, summarize, type Case, type Plan, type Runner } from './plan.ts'
import { DEVICE_DIR, findPython, runPython } from './python.ts'

const usage = `Usage: npm run bench:device:dry-run [-- --preset tiny|bench --budget-s S --out FILE --work DIR]`
const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    'budget-s': { type: 'string' },
    out: { type: 'string' },
    work: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help || (values.preset !== 'tiny' && values.preset !== 'bench')) {
  console.log(usage)
  process.exit(values.help ? 0 : 2)
}
const preset = values.preset
const plan = loadPlan()
const budget = values['budget-s'] ? Number(values['budget-s']) : plan.budgetS
const work = values.work ?? join(DEVICE_DIR, '.out', `dry-run-${preset}`)
const outFile = values.out ?? join(DEVICE_DIR, '.out', `device-dry-run-node-${preset}.json`)
const startedAt = new Date().toISOString()
const t0 = performance.now() / 1000
const deadline = t0 + budget
const latent = plan.presets[preset]!.latentSide

const dtypes: Dtype[] = ['fp16', 'fp32']
const index = prepareCarry({ preset, out: work, dtypes, log: () => {} })
console.log(`carry for ${preset} prepared in ${work}`)

// Weights: NumPy's writer when there is one (what the device runs), checked byte for byte against TypeScript's.
const python = findPython()
const weights = []
for (const dtype of dtypes) {
  const bundle = index.bundles[dtype]!
  for (const m of bundle.manifests) {
    const path = join(work, bundle.dir, m)
    const t = performance.now()
    const expected = manifestSha256(readManifest(path))
    let sha256: string
    let writer: string
    if (python) {
      runPython(python, ['write_weights.py', path, '--force', '--workers', '2'])
      sha256 = fileSha256(join(work, bundle.dir, m.replace('model.weights.json', 'model.onnx_data')))
      writer = 'write_weights.py'
    } else {
      sha256 = writeWeightData(path, { force: true }).sha256
      writer = 'typescript (no python3 with numpy here)'
    }
    const entry = { dtype, manifest: m, bytes: readManifest(path).bytes, seconds: (performance.now() - t) / 1000, writer, sha256, sha256MatchesTypeScript: sha256 === expected }
    weights.push(entry)
    console.log(`  weights ${bundle.dir}/${m}: ${entry.bytes} bytes by ${writer}${entry.sha256MatchesTypeScript ? ', = TypeScript' : ', DIFFERS from TypeScript'}`)
  }
}

class NodeRunner implements Runner {
  private readonly sessions = new Map<string, LoadedSession>()
  private readonly feeds = new Map<string, Feeds>()
  private readonly plan: Plan
  private readonly index: CarryIndex
  private readonly dtype: Dtype
  constructor(plan: Plan, index: CarryIndex, dtype: Dtype) {
    this.plan = plan
    this.index = index
    this.dtype = dtype
  }

  async load(keys: string[]): Promise<Record<string, number>> {
    const bundle = this.index.bundles[this.dtype]!
    const out: Record<string, number> = {}
    for (const key of keys) {
      const t = performance.now()
      this.sessions.set(key, await createSession(join(work, bundle.dir, bundle.graphs[key]!.file), { device: 'cpu', log: () => {} }))
      out[key] = Math.round(performance.now() - t) / 1000
    }
    return out
  }

  private feedsFor(c: Case): Feeds {
    let feeds = this.feeds.get(c.key)
    if (!feeds) {
      feeds = {}
      for (const { spec, dims, values } of feedArrays(this.index.bundles[this.dtype]!.graphs[c.graph]!.inputs, c, this.plan, latent, this.index.padId)) {
        if (spec.dtype === 'int64') feeds[spec.name] = tensor('int64', BigInt64Array.from(values as number[], (v) => BigInt(v)), dims)
        else if (spec.dtype === 'int32') feeds[spec.name] = tensor('int32', Int32Array.from(values as number[]), dims)
        else if (spec.dtype === 'float16') feeds[spec.name] = tensor('float16', toFloat16Array(Float32Array.from(values)), dims)
        else feeds[spec.name] = tensor('float32', Float32Array.from(values), dims)
      }
      this.feeds.set(c.key, feeds)
    }
    return feeds
  }

  async time(c: Case): Promise<number> {
    const session = this.sessions.get(c.graph)!
    const feeds = this.feedsFor(c)
    const output = this.index.bundles[this.dtype]!.graphs[c.graph]!.outputs[0]!.name // the service reads one output
    const t = performance.now()
    await runSession(session, feeds, [output])
    return performance.now() - t
  }

  async release(): Promise<void> {
    await Promise.all([...this.sessions.values()].map(disposeSession))
    this.sessions.clear()
  }
}

type GroupEntry = Record<string, unknown> & { runtime: string; dtype: Dtype; status?: string; reason?: string }
const groups: GroupEntry[] = []
const result = {
  schema: RESULT_SCHEMA,
  runner: 'node',
  mode: 'dry-run',
  preset,
  latentSide: latent,
  imageSide: latent * 8,
  startedAt,
  environment: { node: process.version, onnxruntimeNode: (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version, platform: `${platform()} ${release()}`, cpus: cpus().length, python: python ?? null },
  plan: { rounds: plan.rounds, minRounds: plan.minRounds, warmupRuns: plan.warmupRuns, budgetS: budget, groupMinS: plan.groupMinS, batches: plan.presets[preset]!.batches },
  carry: { gitCommit: index.gitCommit, createdAt: index.createdAt, rewrites: index.rewrites },
  weights,
  groups,
  service: { attempted: false, status: 'not part of the dry run' },
  notes: ['dry run: onnxruntime-node CPU provider on this machine; the figures test the plan, not a GPU'],
  seconds: 0,
  finishedAt: '',
}
const save = () => {
  result.seconds = Math.round((performance.now() / 1000 - t0) * 10) / 10
  mkdirSync(join(outFile, '..'), { recursive: true })
  writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`)
}

const runnable = plan.groups.filter((g) => dtypes.includes(g.dtype))
for (const g of runnable) {
  const entry: GroupEntry = { runtime: g.runtime === 'primary' ? 'onnxruntime-node-cpu' : g.runtime, dtype: g.dtype }
  if (g.runtime !== 'primary') Object.assign(entry, { status: 'skipped', reason: 'onnxruntime-node here has no TensorRT provider' })
  groups.push(entry)
}
for (const [i, g] of runnable.entries()) {
  const entry = groups[i]!
  const remaining = deadline - performance.now() / 1000
  if (!entry.status && remaining < plan.groupMinS) Object.assign(entry, { status: 'skipped', reason: `budget: ${remaining.toFixed(0)} s left` })
  if (entry.status) {
    console.log(`group ${entry.runtime} ${g.dtype}: ${entry.status} (${entry.reason ?? ''})`)
    continue
  }
  const shares = runnable.slice(i).filter((_, j) => !groups[i + j]!.status).map((x) => x.share ?? 1)
  const groupDeadline = performance.now() / 1000 + (remaining * (g.share ?? 1)) / shares.reduce((a, b) => a + b, 0)
  const cases = groupCases(plan, preset, g)
  console.log(`group ${entry.runtime} ${g.dtype}: ${cases.length} cases, ${remaining.toFixed(0)} s left`)
  const started = performance.now()
  const runner = new NodeRunner(plan, index, g.dtype)
  try {
    entry.loadSeconds = await runner.load([...new Set(cases.map((c) => c.graph))].sort())
    const measured = await runGroup(runner, cases, plan, groupDeadline, deadline)
    Object.assign(entry, { status: 'measured', rounds: measured.rounds, roundSecondsEstimate: measured.roundSecondsEstimate, ...summarize(cases, measured) })
    if (Object.keys(measured.errors).length) entry.errors = measured.errors
    if (Object.keys(measured.errors).length === cases.length) Object.assign(entry, { status: 'failed', reason: `every case failed, e.g. ${Object.values(measured.errors)[0]}` })
  } catch (error) {
    Object.assign(entry, { status: 'failed', reason: `${(error as Error).name}: ${(error as Error).message.split('\n')[0]!.slice(0, 500)}` })
    console.log(`  failed: ${entry.reason ?? ''}`)
  } finally {
    await runner.release()
  }
  entry.seconds = Math.round(performance.now() - started) / 1000
  save()
}
result.finishedAt = new Date().toISOString()
save()
for (const g of groups.filter((x) => x.status === 'measured')) {
  console.log(`\n${g.runtime} ${g.dtype}, median of ${String(g.rounds)} rounds`)
  for (const r of (g.ratios as { variant: string; batch: number; unetVsPlain: number }[]) ?? []) console.log(`  batch ${r.batch} ${r.variant.padEnd(9)} UNet × plain ${r.unetVsPlain.toFixed(2)}`)
}
console.log(`\nwrote ${outFile} (${result.seconds} s)`)
