import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { prepareCarry, type CarryIndex } from '../../bench/device/carry.ts'
import { groupCases, loadPlan, summarize, type DeviceResult } from '../../bench/device/plan.ts'
import { DEVICE_DIR, findPython, runPython } from '../../bench/device/python.ts'
import { fileSha256, readManifest, writeWeightData } from '../onnx/weight-manifest.ts'
import { createSession, disposeSession, runSession, tensor, type Feeds } from '../runtime/onnx-backend.ts'

/**
 * The prepared device run, dry-run here: the NumPy weight writer against the TypeScript one, the
 * Python timing core (--dry-run) against its Node twin, and the PyTorch fallback executor against
 * onnxruntime-node on the same graphs. Each Python part skips, saying why, without python3 + numpy
 * (and torch + onnx for the executor; Debian: apt-get install python3-numpy python3-torch python3-onnx).
 */
const python = findPython()
const torchPython = findPython(['numpy', 'torch', 'onnx'])
const plan = loadPlan()
let carry: string
let index: CarryIndex

beforeAll(() => {
  carry = join(mkdtempSync(join(tmpdir(), 'snoopi-device-')), 'carry')
  index = prepareCarry({ preset: 'tiny', out: carry, dtypes: ['fp16', 'fp32'], hashes: true, log: () => {} })
})

const manifests = () => Object.values(index.bundles).flatMap((b) => b.manifests.map((m) => join(carry, b.dir, m)))

describe('device carry', () => {
  it('lists every graph with its inputs, and the rewrites found every cross-attention layer', () => {
    for (const b of Object.values(index.bundles)) {
      expect(Object.keys(b.graphs).sort()).toEqual(['text_encoder', 'unet', 'unet.nag', 'unet.nasa', 'unet.nasa-proj', 'vae_decoder'])
      expect(b.graphs['unet.nasa']!.inputs.map((i) => i.name)).toContain('negative_encoder_hidden_states')
    }
    for (const r of Object.values(index.rewrites)) expect(r.layers).toBe(7)
  })
})

describe.skipIf(!python)(`write_weights.py (${python ?? 'skipped: no python3 with numpy here'})`, () => {
  it('writes byte-identical data files to the TypeScript writer, in parallel chunks too', () => {
    for (const path of manifests()) {
      const manifest = readManifest(path)
      runPython(python!, ['write_weights.py', path, '--force', '--workers', '2'])
      const data = join(path, '..', manifest.dataFile)
      expect(fileSha256(data), path).toBe(manifest.sha256)
    }
    // Chunks smaller than a tensor, split mid-pair: the same bytes.
    const path = manifests().find((p) => p.includes('fp32') && p.includes('text_encoder'))!
    const script = `import sys, write_weights as w; w.CHUNK = 1001; print(w.write_data(sys.argv[1], workers=2, force=True, want_hash=True)["sha256"])`
    expect(runPython(python!, ['-c', script, path]).trim()).toBe(readManifest(path).sha256)
    expect(writeWeightData(path).skipped).toBe(true)
  }, 120_000)
})

describe.skipIf(!python)('device_bench.py --dry-run and its Node twin', () => {
  it('run the same cases and write the same JSON schema', () => {
    const out = mkdtempSync(join(tmpdir(), 'snoopi-device-out-'))
    runPython(python!, ['device_bench.py', '--dry-run', '--carry', carry, '--out', out, '--work', join(out, 'work'), '--budget-s', '600'])
    const py = JSON.parse(readFileSync(join(out, 'device-bench.json'), 'utf8')) as DeviceResult
    expect([py.schema, py.mode, py.runner, py.preset]).toEqual(['snoopi-device-bench/1', 'dry-run', 'python', 'tiny'])
    expect(py.weights.every((w) => w.sha256MatchesTypeScript)).toBe(true)
    expect(py.groups.map((g) => g.status)).toEqual(['measured', 'measured', 'skipped'])
    for (const [i, g] of py.groups.slice(0, 2).entries()) {
      const cases = groupCases(plan, 'tiny', plan.groups[i]!).map(({ component, variant, batch, runBatch, graph }) => ({ component, variant, batch, runBatch, graph }))
      expect(g.cases!.map(({ component, variant, batch, runBatch, graph }) => ({ component, variant, batch, runBatch, graph }))).toEqual(cases)
      expect(g.rounds).toBe(plan.rounds)
      expect(g.pipeline!.length).toBe(plan.presets.tiny!.batches.length * plan.variants.length)
    }

    const nodeOut = join(out, 'node.json')
    const node = spawnSync(process.execPath, [join(DEVICE_DIR, 'dry-run.ts'), '--out', nodeOut, '--work', join(out, 'node-work'), '--budget-s', '600'], { encoding: 'utf8' })
    expect(node.status, node.stderr).toBe(0)
    const js = JSON.parse(readFileSync(nodeOut, 'utf8')) as DeviceResult
    const keys = (o: object) => Object.keys(o).sort()
    expect(keys(js)).toEqual(keys(py))
    expect(js.groups.map((g) => g.status)).toEqual(['measured', 'measured', 'skipped'])
    for (const part of ['cases', 'pipeline', 'ratios'] as const) {
      expect(keys(js.groups[0]![part]![0]!), part).toEqual(keys(py.groups[0]![part]![0]!))
      expect(js.groups[1]![part]!.length, part).toBe(py.groups[1]![part]!.length)
    }
    expect(keys(js.groups[0]!)).toEqual(keys(py.groups[0]!))
  }, 180_000)

  it('summarize matches bench_plan.summarize on the same samples', () => {
    const cases = groupCases(plan, 'tiny', plan.groups[0]!)
    const samples = Object.fromEntries(cases.map((c, i) => [c.key, [3 + i, 1 + i, 2 + i * 1.5]]))
    const script = `import json, sys, bench_plan as b
p = b.load_plan(); cs = b.group_cases(p, "tiny", p["groups"][0])
print(json.dumps(b.summarize(cs, {"samples": json.loads(sys.argv[1]), "errors": {}})))`
    const py = JSON.parse(runPython(python!, ['-c', script, JSON.stringify(samples)])) as ReturnType<typeof summarize>
    const js = summarize(cases, { rounds: 3, samples, errors: {}, roundSecondsEstimate: 0 })
    expect(js.ratios.map((r) => [r.variant, r.batch, r.unetVsPlain!.toFixed(12), r.pipelineVsPlain!.toFixed(12)])).toEqual(
      py.ratios.map((r) => [r.variant, r.batch, r.unetVsPlain!.toFixed(12), r.pipelineVsPlain!.toFixed(12)]),
    )
    expect(js.pipeline.map((p) => p.imagesPerSecond.toFixed(9))).toEqual(py.pipeline.map((p) => p.imagesPerSecond.toFixed(9)))
  })
})

describe.skipIf(!torchPython)(`onnx_torch.py, the fallback executor (${torchPython ?? 'skipped: no python3 with numpy, torch and onnx here'})`, () => {
  it('computes what onnxruntime-node computes on every carried fp32 graph', async () => {
    const bundle = index.bundles.fp32!
    const dir = join(carry, bundle.dir)
    for (const m of bundle.manifests) writeWeightData(join(dir, m))
    const dump = mkdtempSync(join(tmpdir(), 'snoopi-torch-'))
    const script = `import json, os, sys, numpy as np, bench_plan as b, onnx_torch as t, torch
carry, dump = sys.argv[1], sys.argv[2]
index = json.load(open(os.path.join(carry, "index.json"))); bundle = index["bundles"]["fp32"]; plan = b.load_plan()
store = t.WeightStore("cpu"); meta = {}
for key, g in bundle["graphs"].items():
    case = b.Case("x", "-", 2, 2, key)
    feeds = b.make_feeds(g["inputs"], case, plan, 8, index["padId"])
    out = t.TorchGraph(os.path.join(carry, bundle["dir"], g["file"]), store)({k: torch.from_numpy(v) for k, v in feeds.items()})[0].numpy()
    meta[key] = {"feeds": {k: [str(v.dtype), list(v.shape)] for k, v in feeds.items()}, "out": list(out.shape)}
    for k, v in feeds.items(): v.tofile(os.path.join(dump, f"{key}.{k}.bin"))
    out.astype(np.float32).tofile(os.path.join(dump, f"{key}.out.bin"))
print(json.dumps(meta))`
    const meta = JSON.parse(runPython(torchPython!, ['-c', script, carry, dump])) as Record<string, { feeds: Record<string, [string, number[]]>; out: number[] }>
    expect(Object.keys(meta).length).toBe(6)
    for (const [key, m] of Object.entries(meta)) {
      const feeds: Feeds = {}
      for (const [name, [dtype, dims]] of Object.entries(m.feeds)) {
        const bytes = readFileSync(join(dump, `${key}.${name}.bin`))
        const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
        if (dtype === 'int64') feeds[name] = tensor('int64', new BigInt64Array(buffer), dims)
        else if (dtype === 'int32') feeds[name] = tensor('int32', new Int32Array(buffer), dims)
        else feeds[name] = tensor('float32', new Float32Array(buffer), dims)
      }
      const session = await createSession(join(dir, bundle.graphs[key]!.file), { log: () => {} })
      const expected = (await runSession(session, feeds))[bundle.graphs[key]!.outputs[0]!.name]!.data as Float32Array
      await disposeSession(session)
      const outBytes = readFileSync(join(dump, `${key}.out.bin`))
      const actual = new Float32Array(outBytes.buffer.slice(outBytes.byteOffset, outBytes.byteOffset + outBytes.byteLength))
      expect(actual.length, key).toBe(expected.length)
      let worst = 0
      let scale = 0
      for (let i = 0; i < actual.length; i++) {
        worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
        scale = Math.max(scale, Math.abs(expected[i]!))
      }
      expect(worst / scale, key).toBeLessThan(1e-4)
    }
  }, 180_000)
})
