/**
 * `npm run bench:pipeline`: per-stage times and images/s of the one-step pipeline on the CPU, batch 1
 * and batch 4 measured side by side (interleaved rounds in one process), on the `bench` bundle
 * (Stable Diffusion 2.1 block structure at reduced width, 512×512 images).
 */
import { parseArgs } from 'node:util'
import { benchBundle } from './bench-bundle.ts'
import { batchOf, type StageTimings } from '../src/generation/batch.ts'
import { validateGeneration } from '../src/generation/generation-request.ts'
import { OneStepPipeline } from '../src/pipeline/one-step-pipeline.ts'

const usage = `Usage: npm run bench:pipeline [-- --rounds N --batch-sizes 1,4 --bundle DIR]

Measures the pipeline's stages at each batch size, interleaving the sizes round by round so that
machine noise hits them alike. Defaults: 3 rounds, batch sizes 1 and 4, the generated bench bundle.`

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'batch-sizes': { type: 'string', default: '1,4' },
    bundle: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const rounds = Number(values.rounds)
const batchSizes = values['batch-sizes'].split(',').map(Number)
if (!Number.isInteger(rounds) || rounds < 1 || batchSizes.some((b) => !Number.isInteger(b) || b < 1 || b > 16)) {
  console.error(usage)
  process.exit(2)
}

const bundleDir = benchBundle(values.bundle)
// No text-feature cache: every round encodes its prompts, so the text encoder stage is measured.
const pipeline = await OneStepPipeline.load(bundleDir, { embeddingCacheSize: 0, onProgress: (line) => console.error(line) })
const { width, height } = pipeline.bundle.sizes[0]!
console.error(`bundle ${pipeline.bundle.displayName}, ${width}x${height}, ${rounds} rounds × batch ${batchSizes.join(' and ')}`)

type Stage = keyof StageTimings
const stages: Stage[] = ['tokenize', 'textEncoder', 'unet', 'vae', 'encode', 'total']
const samples = new Map<number, StageTimings[]>(batchSizes.map((b) => [b, []]))

async function once(batch: number, round: number): Promise<StageTimings> {
  const prompts = Array.from({ length: batch }, (_, i) => `a red circle and a blue square, round ${round} image ${i}`)
  const { timings } = await pipeline.run(batchOf(prompts.map((prompt, i) => validateGeneration(pipeline.bundle, { prompt, seed: BigInt((round + 1) * 16 + i) }))))
  return timings
}

for (const batch of batchSizes) await once(batch, -1) // warm-up: first runs allocate ORT's arenas
for (let round = 0; round < rounds; round++) {
  for (const batch of batchSizes) {
    const timings = await once(batch, round)
    samples.get(batch)!.push(timings)
    console.error(`round ${round + 1}/${rounds} batch ${batch}: ${Math.round(timings.total)} ms`)
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rows = batchSizes.map((batch) => {
  const runs = samples.get(batch)!
  const per = { ...runs[0]! }
  for (const stage of stages) per[stage] = median(runs.map((r) => r[stage]))
  return { batch, per, imagesPerSecond: (batch * 1000) / per.total }
})
const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0))
console.log(`\nOne-step pipeline, ${pipeline.bundle.displayName}, ${width}x${height}, CPU, median of ${rounds} interleaved rounds (ms per call)\n`)
console.log(`| batch | tokenize | text encoder | UNet | VAE | encode | total | images/s |`)
console.log(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`)
for (const { batch, per, imagesPerSecond } of rows) {
  console.log(`| ${batch} | ${fmt(per.tokenize)} | ${fmt(per.textEncoder)} | ${fmt(per.unet)} | ${fmt(per.vae)} | ${fmt(per.encode)} | ${fmt(per.total)} | ${imagesPerSecond.toFixed(3)} |`)
}
const base = rows[0]!
for (const row of rows.slice(1)) {
  console.log(`\nbatch-${row.batch}/batch-${base.batch} throughput ratio: ${(row.imagesPerSecond / base.imagesPerSecond).toFixed(2)}`)
}
await pipeline.dispose()
