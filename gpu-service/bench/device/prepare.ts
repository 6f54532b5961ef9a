/**
 * `npm run bench:device:prepare`: writes what the device run carries into gpu-service/bench/device/.carry
 * (ignored by git): the sd21 structure-only bundles, fp16 and fp32, with their NASA, NASA-projection
 * and NAG UNets, and index.json. Prints the sizes against the device tool's 64 MiB working-tree limit.
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { presetNames, type PresetName } from '../../src/bundle/build/presets.ts'
import { folderBytes, prepareCarry, workingTreeBytes, type Dtype } from './carry.ts'

const LIMIT = 64 * 2 ** 20
const usage = `Usage: npm run bench:device:prepare [-- --preset sd21 --dtypes fp16,fp32 --out DIR --hashes]

--hashes draws every weight here in TypeScript to record its data file's SHA-256 in the manifest, so
the device can confirm its NumPy writer drew the same bytes (sd21: a few minutes).`

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'sd21' },
    dtypes: { type: 'string', default: 'fp16,fp32' },
    out: { type: 'string', default: fileURLToPath(new URL('./.carry', import.meta.url)) },
    hashes: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const dtypes = values.dtypes.split(',') as Dtype[]
if (!(presetNames as string[]).includes(values.preset) || dtypes.some((d) => d !== 'fp16' && d !== 'fp32')) {
  console.error(usage)
  process.exit(2)
}

const t0 = Date.now()
const index = prepareCarry({ preset: values.preset as PresetName, out: values.out, dtypes, hashes: values.hashes })
const repo = fileURLToPath(new URL('../../..', import.meta.url))
const carry = folderBytes(values.out)
const tree = workingTreeBytes(repo)
const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`
console.log(`\ncarry folder ${values.out}: ${mib(carry)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
for (const [dtype, b] of Object.entries(index.bundles)) {
  const nodes = Object.entries(b.graphs).map(([k, g]) => `${k} ${g.nodes}`).join(', ')
  console.log(`  ${b.dir}: ${mib(folderBytes(`${values.out}/${b.dir}`))} of graphs; weights drawn on the device: ${(b.weightBytes / 1e9).toFixed(2)} GB (${dtype}); nodes: ${nodes}`)
}
console.log(`working tree that travels (tracked + untracked, not ignored): ${mib(tree)}`)
console.log(`total ${mib(carry + tree)} of the ${mib(LIMIT)} limit: ${carry + tree <= LIMIT ? 'fits' : 'DOES NOT FIT'}`)
if (carry + tree > LIMIT) process.exit(1)
