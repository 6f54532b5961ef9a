import * as ort from 'onnxruntime-node'

/**
 * The one module that talks to ONNX Runtime: create, run, dispose, tensors and their type, and the
 * device → execution provider table. No other file imports `onnxruntime-node` (a test checks).
 */
export type Device = 'cpu' | 'cuda'

/** Execution providers tried per device, in order; CPU is always the last resort. */
export const executionProviders: Record<Device, string[]> = {
  cpu: ['cpu'],
  cuda: ['cuda', 'cpu'],
}

export interface SessionOptions {
  device?: Device
  /** Intra-op threads; 0 lets ORT choose (one per core). */
  threads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  log?: (line: string) => void
}

export interface TensorInfo {
  name: string
  type: string
  shape: (number | string)[]
}

export interface LoadedSession {
  session: ort.InferenceSession
  provider: string
  inputs: TensorInfo[]
  outputs: TensorInfo[]
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape].map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) } : { name: m.name, type: 'non-tensor', shape: [] },
  )
}

/**
 * Creates a session on the first provider of `device` that works, logging a fallback. `model` is a
 * file path (needed for external data) or the model's bytes.
 */
export async function createSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<LoadedSession> {
  const path = typeof model === 'string' ? model : `<${model.byteLength} bytes in memory>`
  const { device = 'cpu', threads = 0, graphOptimizationLevel = 'all', log = console.log } = options
  const providers = executionProviders[device]
  let lastError: unknown
  for (const provider of providers) {
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel,
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
      }
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions)
      if (provider !== providers[0]) log(`onnxruntime: ${providers[0]} unavailable for ${path}, fell back to ${provider}`)
      return { session, provider, inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) }
    } catch (error) {
      lastError = error
      if (provider !== providers.at(-1)) log(`onnxruntime: ${provider} failed for ${path}: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  throw new Error(`onnxruntime could not load ${path}: ${(lastError as Error)?.message ?? String(lastError)}`)
}

/** A tensor as ONNX Runtime holds it (fp16 data is a Uint16Array of bit patterns). */
export type Tensor = ort.Tensor
export type TensorType = ort.Tensor.Type
export type Feeds = Record<string, Tensor>

export const tensor = (type: TensorType, data: ort.Tensor.DataType, dims: readonly number[]): Tensor => new ort.Tensor(type, data, dims)

export async function runSession(loaded: LoadedSession, feeds: Feeds, outputNames?: string[]): Promise<Record<string, Tensor>> {
  return outputNames ? loaded.session.run(feeds, outputNames) : loaded.session.run(feeds)
}

export async function disposeSession(loaded: LoadedSession): Promise<void> {
  await loaded.session.release()
}
