import { Worker } from 'node:worker_threads'
import type { ModelBundle } from '../bundle/load/model-bundle.ts'
import type { Batch, BatchResult, BatchRunner } from '../generation/batch.ts'
import type { PipelineOptions } from './one-step-pipeline.ts'
import type { SerializedError, WorkerReply, WorkerRequest } from './pipeline-protocol.ts'

/** An error from the worker thread, with its name and message (a bundle error at start, a failed run). */
function revive(error: SerializedError): Error {
  const revived = new Error(error.message)
  revived.name = error.name
  return revived
}

/**
 * The pipeline on its own worker thread. `run(batch)` has the same contract as OneStepPipeline.run;
 * image bytes come back as transferred buffers (no copy).
 *
 * @example
 * const worker = await PipelineWorker.start('/models/sd-turbo', { device: 'cuda' })
 * const { images } = await worker.run(batchOf([validateGeneration(worker.bundle, { prompt: 'a cat', seed: 1n })]))
 */
export class PipelineWorker implements BatchRunner {
  readonly bundle: ModelBundle
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve: (r: BatchResult) => void; reject: (e: Error) => void }>()
  private nextId = 1
  private closed: Promise<void> | undefined

  private constructor(worker: Worker, bundle: ModelBundle) {
    this.worker = worker
    this.bundle = bundle
  }

  static start(bundleDir: string, options: PipelineOptions = {}): Promise<PipelineWorker> {
    const { log = console.log, onProgress, ...rest } = options
    const worker = new Worker(new URL('./pipeline-worker.ts', import.meta.url), { workerData: { bundleDir, options: rest } })
    return new Promise((resolve, reject) => {
      let host: PipelineWorker | undefined
      worker.on('message', (reply: WorkerReply) => {
        switch (reply.kind) {
          case 'log':
            ;(onProgress ?? log)(reply.line)
            return
          case 'ready':
            host = new PipelineWorker(worker, reply.bundle)
            resolve(host)
            return
          case 'failed':
            void worker.terminate()
            reject(revive(reply.error))
            return
          case 'result':
          case 'error': {
            const waiter = host?.pending.get(reply.id)
            host?.pending.delete(reply.id)
            if (reply.kind === 'result') waiter?.resolve(reply.result)
            else waiter?.reject(revive(reply.error))
            return
          }
          case 'disposed':
            return
        }
      })
      worker.on('error', (error) => {
        reject(error)
        host?.failAll(error)
      })
      worker.on('exit', (code) => {
        const error = new Error(`pipeline worker exited with code ${code}`)
        reject(error)
        host?.failAll(error)
      })
    })
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }

  run(batch: Batch): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new Error('pipeline worker is closed'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage({ kind: 'run', id, batch } satisfies WorkerRequest)
    })
  }

  /** Releases the sessions and stops the thread; in-flight calls finish first. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      const finish = () => void this.worker.terminate().then(() => resolve())
      this.worker.on('message', (reply: WorkerReply) => reply.kind === 'disposed' && finish())
      this.worker.postMessage({ kind: 'dispose' } satisfies WorkerRequest)
    })
    return this.closed
  }
}
