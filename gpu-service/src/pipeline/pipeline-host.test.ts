import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchOf, type Batch } from '../generation/batch.ts'
import { validateGeneration, type GenerationInput } from '../generation/generation-request.ts'
import { testBundle } from '../testing/bundles.ts'
import { OneStepPipeline } from './one-step-pipeline.ts'
import { PipelineWorker } from './pipeline-host.ts'

let worker: PipelineWorker
let direct: OneStepPipeline
const progress: string[] = []

beforeAll(async () => {
  const dir = testBundle('tiny')
  worker = await PipelineWorker.start(dir, { threads: 1, onProgress: (line) => progress.push(line) })
  direct = await OneStepPipeline.load(dir, { threads: 1 })
})
afterAll(async () => {
  await worker.close()
  await direct.dispose()
})

/** The requests, validated, as one batch. */
const batch = (...inputs: GenerationInput[]): Batch => batchOf(inputs.map((input) => validateGeneration(worker.bundle, input)))

describe('PipelineWorker', () => {
  it('reports loading progress and the bundle it loaded', () => {
    expect(progress.some((line) => /loaded UNet in \d+ ms on cpu/.test(line))).toBe(true)
    expect(worker.bundle.sizes[0]).toEqual({ width: 64, height: 64 })
  })

  it('returns the same bytes as the pipeline called directly', async () => {
    const both = batch({ prompt: 'a red circle', seed: 11n }, { prompt: 'a blue square', seed: 12n })
    const [threaded, inline] = [await worker.run(both), await direct.run(both)]
    expect(threaded.images.map((i) => Buffer.from(i.data).toString('base64'))).toEqual(inline.images.map((i) => Buffer.from(i.data).toString('base64')))
    expect(threaded.images.map((i) => i.seed)).toEqual([11n, 12n])
  })

  it('hands back WebP and JPEG bytes (sharp output lives in native memory)', async () => {
    for (const outputFormat of ['webp', 'jpeg'] as const) {
      const { images } = await worker.run(batch({ prompt: 'a cat', seed: 1, outputFormat }))
      expect(images[0]!.data.byteLength).toBeGreaterThan(100)
    }
  })

  it('keeps the event loop free while it works', async () => {
    const requests = Array.from({ length: 6 }, (_, i) => worker.run(batch({ prompt: 'a busy worker', seed: i, size: { width: 128, height: 128 } })))
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const started = performance.now()
    await Promise.all(requests)
    clearInterval(timer)
    const elapsed = performance.now() - started
    // A blocked loop would tick ~0 times; a free one ticks on most milliseconds.
    expect(ticks).toBeGreaterThan(elapsed / 4)
  })

  it('passes a failed run back with its message, and keeps working', async () => {
    // The worker runs what it is given (requests are validated before they are batched), so a batch
    // built by hand with a format the encoder lacks fails in the worker, not before.
    const error = await worker.run({ ...batch({ prompt: 'a cat', seed: 1 }), outputFormat: 'gif' as never }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toBe('unsupported image format "gif"; expected one of png, webp, jpeg')
    expect((await worker.run(batch({ prompt: 'a cat', seed: 1 }))).images).toHaveLength(1)
  })

  it('fails to start with the bundle error when the bundle is broken', async () => {
    await expect(PipelineWorker.start('/nonexistent', { log: () => {} })).rejects.toThrow('model bundle: /nonexistent: not a directory')
  })
})
