import type { ModelBundle } from '../bundle/model-bundle.ts'
import type { GenerateRequest } from './generate-request.ts'
import type { GenerateResult } from './one-step-pipeline.ts'

/** Messages between PipelineWorker (main thread) and pipeline-worker.ts. */
export type WorkerRequest = { kind: 'generate'; id: number; request: GenerateRequest } | { kind: 'dispose' }

export type SerializedError = { name: string; message: string }

export type WorkerReply =
  | { kind: 'log'; line: string }
  | { kind: 'ready'; bundle: ModelBundle }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'result'; id: number; result: GenerateResult }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'disposed' }
