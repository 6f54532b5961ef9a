import { tensor, type Tensor, type TensorInfo } from '../runtime/onnx-backend.ts'
import { fromFloat16Array, toFloat16Array } from '../onnx/float16.ts'

/**
 * Feeds built from what the session reports (dtype and rank), not from assumptions: Optimum's exports
 * differ between versions (int32 or int64 ids, scalar or `[batch]` timestep) and fp16 exports take
 * fp16 tensors, which ONNX Runtime's Node binding carries as Uint16Array bit patterns.
 */
export function floatFeed(info: TensorInfo, data: Float32Array, dims: number[]): Tensor {
  if (info.type === 'float16') return tensor('float16', toFloat16Array(data), dims)
  if (info.type === 'float32') return tensor('float32', data, dims)
  throw new Error(`input ${info.name} has type ${info.type}; expected float32 or float16`)
}

export function readFloats(t: Tensor): Float32Array {
  if (t.type === 'float16') return fromFloat16Array(t.data as Uint16Array)
  if (t.type === 'float32') return t.data as Float32Array
  throw new Error(`output of type ${t.type}; expected float32 or float16`)
}

export function idsFeed(info: TensorInfo, ids: Int32Array, dims: number[]): Tensor {
  if (info.type === 'int32') return tensor('int32', ids, dims)
  if (info.type === 'int64') return tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims)
  throw new Error(`input ${info.name} has type ${info.type}; expected int32 or int64`)
}

/** The timestep as the UNet declares it: a scalar, `[1]` or `[batch]`, float or integer. */
export function timestepFeed(info: TensorInfo, timestep: number, batch: number): Tensor {
  const rank = info.shape.length
  if (rank > 1) throw new Error(`input ${info.name} has rank ${rank}; expected a scalar or a vector`)
  const dims = rank === 0 ? [] : [info.shape[0] === 1 ? 1 : batch]
  const count = rank === 0 ? 1 : (dims[0] as number)
  switch (info.type) {
    case 'float32':
      return tensor('float32', new Float32Array(count).fill(timestep), dims)
    case 'float16':
      return tensor('float16', toFloat16Array(new Float32Array(count).fill(timestep)), dims)
    case 'int64':
      return tensor('int64', new BigInt64Array(count).fill(BigInt(timestep)), dims)
    case 'int32':
      return tensor('int32', new Int32Array(count).fill(timestep), dims)
    default:
      throw new Error(`input ${info.name} has type ${info.type}; expected a float or integer timestep`)
  }
}

/** Finds a declared input or output by name, with an error that lists what the model has. */
export function findTensor(list: TensorInfo[], name: string, model: string): TensorInfo {
  const found = list.find((t) => t.name === name)
  if (!found) throw new Error(`${model} has no tensor "${name}" (it has: ${list.map((t) => t.name).join(', ')})`)
  return found
}
