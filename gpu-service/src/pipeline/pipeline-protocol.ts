import type { ModelBundle } from '../bundle/load/model-bundle.ts'
import type { Batch, BatchResult } from '../generation/batch.ts'

/** Messages between PipelineWorker (main thread) and pipeline-worker.ts. */
export type WorkerRequest = { kind: 'run'; id: number; batch: Batch } | { kind: 'dispose' }

export type SerializedError = { name: string; message: string }

export type WorkerReply =
  | { kind: 'log'; line: string }
  | { kind: 'ready'; bundle: ModelBundle }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'result'; id: number; result: BatchResult }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'disposed' }
