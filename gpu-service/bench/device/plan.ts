/**
 * The device bench's timing plan in TypeScript: a line-for-line twin of bench_plan.py (cases, rotated
 * rounds, upper medians, budget shares, the pipeline's sum and ratios), so dry-run.ts exercises on
 * onnxruntime-node what device_bench.py runs on the GPU and writes the same JSON.
 */
import { readFileSync } from 'node:fs'
import type { TensorSpec } from './carry.ts'

export const RESULT_SCHEMA = 'snoopi-device-bench/1'

export interface PlanGroup {
  runtime: string
  dtype: 'fp16' | 'fp32'
  share?: number
  batches?: number[]
  variants?: string[]
  components?: string[]
}
export interface Plan {
  presets: Record<string, { latentSide: number; batches: number[] }>
  groups: PlanGroup[]
  components: string[]
  variants: string[]
  warmupRuns: number
  rounds: number
  minRounds: number
  budgetS: number
  groupMinS: number
  sequenceLength: number
  timestep: number
  guidance: Record<string, number>
}

export const loadPlan = (): Plan => JSON.parse(readFileSync(new URL('./plan.json', import.meta.url), 'utf8')) as Plan

export interface Case {
  component: string
  variant: string
  batch: number
  runBatch: number
  graph: string
  key: string
}

const makeCase = (component: string, variant: string, batch: number, runBatch: number, graph: string): Case => ({
  component,
  variant,
  batch,
  runBatch,
  graph,
  key: `${component}/${variant}/b${batch}`,
})

/** The cases of one group, in plan order (batch, component, variant); CFG is the plain UNet at 2N rows. */
export function groupCases(plan: Plan, preset: string, group: PlanGroup): Case[] {
  const out: Case[] = []
  for (const batch of group.batches ?? plan.presets[preset]!.batches) {
    for (const component of group.components ?? plan.components) {
      if (component !== 'unet') {
        out.push(makeCase(component, '-', batch, batch, component))
        continue
      }
      for (const v of group.variants ?? plan.variants) {
        out.push(makeCase('unet', v, batch, v === 'cfg' ? 2 * batch : batch, v === 'plain' || v === 'cfg' ? 'unet' : `unet.${v}`))
      }
    }
  }
  return out
}

export const roundOrder = <T>(cases: T[], round: number): T[] => {
  const k = cases.length ? round % cases.length : 0
  return [...cases.slice(k), ...cases.slice(0, k)]
}

/** The upper median, sorted[n / 2] (the benches' definition). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export interface Runner {
  /** One call's milliseconds. */
  time(c: Case): Promise<number>
}

export interface Measured {
  rounds: number
  samples: Record<string, number[]>
  errors: Record<string, string>
  roundSecondsEstimate: number
}

const seconds = () => performance.now() / 1000

/** Warm-up, then rotated rounds within the group's share (bench_plan.run_group). Deadlines in performance.now() seconds. */
export async function runGroup(runner: Runner, cases: Case[], plan: Plan, groupDeadline: number, hardDeadline: number, log = console.log, clock = seconds): Promise<Measured> {
  const samples: Record<string, number[]> = Object.fromEntries(cases.map((c) => [c.key, []]))
  const errors: Record<string, string> = {}
  const estimate: Record<string, number> = {}
  const fail = (c: Case, e: unknown) => {
    errors[c.key] = `${(e as Error).name ?? 'Error'}: ${String((e as Error).message ?? e).split('\n')[0]!.slice(0, 300)}`
    log(`  ${c.key}: ${errors[c.key]}`)
  }
  for (const c of cases) {
    try {
      for (let i = 0; i < plan.warmupRuns; i++) estimate[c.key] = await runner.time(c)
    } catch (e) {
      fail(c, e)
    }
  }
  const live = cases.filter((c) => !(c.key in errors))
  const roundS = live.reduce((s, c) => s + estimate[c.key]!, 0) / 1000
  const room = groupDeadline - clock()
  const fit = roundS > 0 ? Math.floor(room / roundS) : plan.rounds
  const wanted = Math.max(plan.minRounds, Math.min(plan.rounds, fit))
  log(`  warm-up done: one round ≈ ${roundS.toFixed(2)} s, ${wanted} rounds planned (${room.toFixed(0)} s of this group's share left)`)
  let done = 0
  for (let r = 0; r < wanted; r++) {
    const now = clock()
    if (done >= 1 && (now + roundS > hardDeadline || (done >= plan.minRounds && now + roundS > groupDeadline))) {
      log(`  budget: stopping after ${done} rounds`)
      break
    }
    for (const c of roundOrder(live, r)) {
      if (c.key in errors) continue
      try {
        samples[c.key]!.push(await runner.time(c))
      } catch (e) {
        fail(c, e)
      }
    }
    done++
  }
  return { rounds: done, samples, errors, roundSecondsEstimate: roundS }
}

/** Per-case medians, the pipeline's sum per variant and batch, and ratios to plain (bench_plan.summarize). */
export function summarize(cases: Case[], measured: Measured) {
  const by = new Map<string, number>()
  const key = (component: string, variant: string, batch: number) => `${component}|${variant}|${batch}`
  const rows = cases.map((c) => {
    const xs = measured.samples[c.key] ?? []
    const row = { component: c.component, variant: c.variant, batch: c.batch, runBatch: c.runBatch, graph: c.graph }
    if (!xs.length) return { ...row, medianMs: null, minMs: null, samplesMs: [], error: measured.errors[c.key] ?? 'not run' }
    by.set(key(c.component, c.variant, c.batch), median(xs))
    return { ...row, medianMs: median(xs), minMs: Math.min(...xs), samplesMs: xs.map((x) => Math.round(x * 1e4) / 1e4) }
  })
  const pipeline = []
  const ratios = []
  for (const batch of [...new Set(cases.map((c) => c.batch))].sort((a, b) => a - b)) {
    const te = by.get(key('text_encoder', '-', batch))
    const vae = by.get(key('vae_decoder', '-', batch))
    const plain = by.get(key('unet', 'plain', batch))
    // Guided requests also encode their negative prompts (a second text-encoder call, N rows).
    const total = (v: string, unet: number) => (te === undefined || vae === undefined ? undefined : te * (v === 'plain' ? 1 : 2) + unet + vae)
    const plainTotal = plain === undefined ? undefined : total('plain', plain)
    for (const v of cases.filter((c) => c.component === 'unet' && c.batch === batch).map((c) => c.variant)) {
      const unet = by.get(key('unet', v, batch))
      if (unet === undefined) continue
      const t = total(v, unet)
      ratios.push({ variant: v, batch, unetVsPlain: plain ? unet / plain : null, pipelineVsPlain: t !== undefined && plainTotal ? t / plainTotal : null })
      if (t !== undefined) {
        pipeline.push({ variant: v, batch, textEncoderMs: te! * (v === 'plain' ? 1 : 2), unetMs: unet, vaeMs: vae!, totalMs: t, imagesPerSecond: (batch * 1000) / t })
      }
    }
  }
  return { cases: rows, pipeline, ratios }
}

export type Summary = ReturnType<typeof summarize>

/** The result JSON both runners write (the parts the tests and the README read). */
export interface DeviceResult {
  schema: typeof RESULT_SCHEMA
  runner: 'python' | 'node'
  mode: 'device' | 'dry-run' | 'cpu-check'
  preset: string
  weights: { dtype: string; manifest: string; bytes: number; sha256MatchesTypeScript: boolean | null }[]
  groups: (Partial<Summary> & { runtime: string; dtype: string; status: 'measured' | 'skipped' | 'failed'; reason?: string; rounds?: number })[]
  [key: string]: unknown
}

/** Deterministic feeds shaped by a graph's declared inputs (values differ from NumPy's; only shapes and dtypes matter for timing). */
export function feedArrays(inputs: TensorSpec[], c: Case, plan: Plan, latent: number, padId: number) {
  const n = c.runBatch
  const seq = plan.sequenceLength
  const sizes: Record<string, number> = { batch_size: n, height: latent, width: latent, latent_height: latent, latent_width: latent, sequence_length: seq }
  return inputs.map((spec) => {
    const dims = spec.dims.map((d) => (typeof d === 'number' ? d : sizes[d]!))
    const count = dims.reduce((a, b) => a * b, 1)
    let values: number[] | Float32Array
    if (spec.name === 'input_ids') {
      const row = [49406, ...Array.from({ length: 12 }, (_, i) => 320 + ((37 * i) % 4000)), 49407]
      values = Array.from({ length: count }, (_, i) => row[i % seq] ?? padId)
    } else if (spec.name === 'timestep') values = [plan.timestep]
    else if (spec.name in plan.guidance) values = new Array<number>(count).fill(plan.guidance[spec.name]!)
    else values = Float32Array.from({ length: count }, (_, i) => Math.sin(i * 12.9898 + n * 78.233) * 0.8)
    return { spec, dims, values }
  })
}
