/**
 * Worker-thread side of PipelineWorker: owns a OneStepPipeline so onnxruntime's blocking `run()`
 * never stalls the HTTP event loop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { OneStepPipeline, type PipelineOptions } from './one-step-pipeline.ts'
import type { WorkerReply, WorkerRequest } from './pipeline-protocol.ts'

const { bundleDir, options } = workerData as { bundleDir: string; options: Omit<PipelineOptions, 'log' | 'onProgress'> }
const port = parentPort
if (!port) throw new Error('pipeline-worker.ts must run in a worker thread')

const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer)

OneStepPipeline.load(bundleDir, {
  ...options,
  log: (line) => post({ kind: 'log', line }),
  onProgress: (line) => post({ kind: 'log', line }),
}).then(
  (pipeline) => {
    post({ kind: 'ready', bundle: pipeline.bundle })
    // One call at a time, in arrival order: sessions share the thread pool, and a dispose must wait
    // for the calls queued before it.
    let queue = Promise.resolve()
    port.on('message', (message: WorkerRequest) => {
      queue = queue.then(() => handle(pipeline, message))
    })
  },
  (error: unknown) => {
    const e = error instanceof Error ? error : new Error(String(error))
    post({ kind: 'failed', error: { name: e.name, message: e.message } })
  },
)

async function handle(pipeline: OneStepPipeline, message: WorkerRequest): Promise<void> {
  if (message.kind === 'dispose') {
    await pipeline.dispose().catch(() => {})
    post({ kind: 'disposed' })
    return
  }
  try {
    const result = await pipeline.run(message.batch)
    // Buffers may share Node's pool or live in native memory (sharp's output), which cannot be
    // transferred; a copy into a plain ArrayBuffer always can (and costs well under a millisecond).
    for (const image of result.images) image.data = new Uint8Array(image.data)
    const transfer = result.images.map((image) => image.data.buffer as ArrayBuffer)
    post({ kind: 'result', id: message.id, result }, transfer)
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error))
    post({ kind: 'error', id: message.id, error: { name: e.name, message: e.message } })
  }
}
