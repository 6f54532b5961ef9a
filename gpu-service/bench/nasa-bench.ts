/**
 * `npm run bench:nasa`: what a negative prompt costs. UNet time and whole-pipeline time for a plain
 * request, NASA (plain and with projection), NAG and the CFG baseline, measured side by side (interleaved rounds, one process)
 * on the `bench` bundle.
 */
import { parseArgs } from 'node:util'
import { benchBundle } from './bench-bundle.ts'
import { batchOf, type Batch } from '../src/generation/batch.ts'
import { validateGeneration, type GuidanceSpec } from '../src/generation/generation-request.ts'
import { OneStepPipeline } from '../src/pipeline/one-step-pipeline.ts'

const usage = `Usage: npm run bench:nasa [-- --rounds N --batch B --bundle DIR]

Interleaves plain, NASA, NASA with projection, NAG and CFG calls round by round and reports median UNet and total times
and their ratios to plain. Defaults: 5 rounds, batch 1, the generated bench bundle.`

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '1' },
    bundle: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const rounds = Number(values.rounds)
const batch = Number(values.batch)
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(batch) || batch < 1 || batch > 8) {
  console.error(usage)
  process.exit(2)
}

const bundleDir = benchBundle(values.bundle)
const pipeline = await OneStepPipeline.load(bundleDir, { preloadGuidance: ['nasa', 'nasa-proj', 'nag'], onProgress: (line) => console.error(line) })
const { width, height } = pipeline.bundle.sizes[0]!

const modes = ['plain', 'nasa', 'nasa-proj', 'nag', 'cfg'] as const
type Mode = (typeof modes)[number]
const guidanceOf = (mode: Exclude<Mode, 'plain'>): GuidanceSpec =>
  mode === 'nasa-proj' ? { mode: 'nasa', projection: true } : mode === 'nasa' ? { mode, projection: false } : { mode }
const batchFor = (mode: Mode, round: number): Batch =>
  batchOf(
    Array.from({ length: batch }, (_, i) =>
      validateGeneration(pipeline.bundle, {
        prompt: `a red circle and a blue square ${i}`,
        seed: BigInt(round * 8 + i + 8),
        ...(mode === 'plain' ? {} : { negativePrompt: 'blue square', guidance: guidanceOf(mode) }),
      }),
    ),
  )

const samples = new Map<Mode, { unet: number; total: number }[]>(modes.map((m) => [m, []]))
for (const mode of modes) await pipeline.run(batchFor(mode, 0)) // warm-up
for (let round = 1; round <= rounds; round++) {
  for (const mode of modes) {
    const { timings } = await pipeline.run(batchFor(mode, round))
    samples.get(mode)!.push({ unet: timings.unet, total: timings.total })
  }
  console.error(`round ${round}/${rounds} done`)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const plain = { unet: median(samples.get('plain')!.map((s) => s.unet)), total: median(samples.get('plain')!.map((s) => s.total)) }
console.log(`\nNegative-prompt cost, ${pipeline.bundle.displayName}, ${width}x${height}, batch ${batch}, CPU, median of ${rounds} interleaved rounds\n`)
console.log('| guidance | UNet ms | UNet × plain | pipeline ms | pipeline × plain |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const mode of modes) {
  const unet = median(samples.get(mode)!.map((s) => s.unet))
  const total = median(samples.get(mode)!.map((s) => s.total))
  console.log(`| ${mode} | ${unet.toFixed(0)} | ${(unet / plain.unet).toFixed(2)} | ${total.toFixed(0)} | ${(total / plain.total).toFixed(2)} |`)
}
await pipeline.dispose()
