import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureTrainingPython } from '../scripts/train/python-env.ts'
import { gaussianNoise } from '../gpu-service/src/diffusion/gaussian-noise.ts'
import { defaultMergesGzPath } from '../gpu-service/src/tokenizer/merges-gz.ts'
import { ClipTokenizer } from '../gpu-service/src/tokenizer/clip-tokenizer.ts'

/**
 * The training recipe's own tests (Python unittest, one vitest case per module), plus the places
 * where Python and the TypeScript product must agree bit for bit: caption token ids and latent noise.
 */
const TRAINING = import.meta.dirname
let python = ''

function runPython(args: string[]): string {
  const result = spawnSync(python, args, { cwd: TRAINING, encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' }, maxBuffer: 64 << 20 })
  if (result.status !== 0) throw new Error(`${python} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

beforeAll(() => {
  python = ensureTrainingPython((line) => console.log(line))
}, 600_000)

describe('training recipe (Python unittest)', () => {
  const modules = readdirSync(join(TRAINING, 'tests'))
    .filter((f) => /^test_.*\.py$/.test(f))
    .map((f) => `tests.${f.replace(/\.py$/, '')}`)

  it('has test modules', () => expect(modules.length).toBeGreaterThanOrEqual(4))

  it.each(modules)('%s passes', (module) => {
    runPython(['-m', 'unittest', module])
  })
})

describe('Python and the TypeScript product agree', () => {
  it('on the token ids of every kind of training caption and negative prompt', () => {
    const script = `
import json
from snoopi_train import scenes
from snoopi_train.clip_ids import caption_ids
import numpy as np
rng = np.random.default_rng(0)
captions = [""] + [scenes.sample_scene(1, i).caption for i in range(60)]
captions += [scenes.training_caption(scenes.sample_scene(2, i), rng) for i in range(60)]
captions += [scenes.object_phrase(o, article=False) for o in scenes.OBJECTS]
print(json.dumps({c: caption_ids(c) for c in captions}))`
    const expected = JSON.parse(runPython(['-c', script])) as Record<string, number[]>
    const tokenizer = ClipTokenizer.fromMergesGz(defaultMergesGzPath, { padToken: '<|endoftext|>' })
    expect(Object.keys(expected).length).toBeGreaterThan(100)
    for (const [caption, ids] of Object.entries(expected)) expect(Array.from(tokenizer.frame(caption).ids), caption).toEqual(ids)
  })

  it('on the latent noise of a seed (xoshiro256** + Box–Muller), bit for bit', () => {
    const seeds = ['0', '7', '12345678901234567890', '18446744073709551615']
    const script = `
import json, sys
from snoopi_train.noise import gaussian_noise
print(json.dumps({s: gaussian_noise(int(s), 257).tolist() for s in sys.argv[1:]}))`
    const fromPython = JSON.parse(runPython(['-c', script, ...seeds])) as Record<string, number[]>
    for (const seed of seeds) expect(fromPython[seed], seed).toEqual(Array.from(gaussianNoise(BigInt(seed), 257)))
  })
})
