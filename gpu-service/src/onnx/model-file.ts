import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { encodeModel, type ModelProto } from './onnx-proto.ts'

/** Protobuf cannot hold 2 GiB; above this the weights go to an external data file. */
const EXTERNAL_DATA_THRESHOLD = 1_500_000_000
/** Small tensors (shapes, axes, scalars) stay inline: shape inference must read them (onnx uses 1 KiB too). */
const INLINE_TENSOR_BYTES = 1024

export interface SaveOptions {
  /** `auto` (default): external data only when the weights would not fit in one protobuf. */
  externalData?: boolean | 'auto'
}

/**
 * Writes a model to `path`. With external data, every initializer of 1 KiB or more goes to `<file>_data` beside
 * it (the layout Optimum and torch.onnx use, e.g. `unet/model.onnx` + `unet/model.onnx_data`).
 */
export function saveModel(model: ModelProto, path: string, { externalData = 'auto' }: SaveOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true })
  const initializers = model.graph?.initializer ?? []
  const weightBytes = initializers.reduce((sum, t) => sum + (t.rawData?.byteLength ?? 0), 0)
  const external = externalData === 'auto' ? weightBytes > EXTERNAL_DATA_THRESHOLD : externalData
  if (!external) {
    writeFileSync(path, encodeModel(model))
    return
  }
  const dataName = `${basename(path)}_data`
  const fd = openSync(join(dirname(path), dataName), 'w')
  let offset = 0
  try {
    for (const tensor of initializers) {
      const raw = tensor.rawData
      if (!raw || raw.byteLength < INLINE_TENSOR_BYTES) continue
      writeSync(fd, raw)
      tensor.externalData = [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.byteLength) },
      ]
      tensor.dataLocation = 1 // EXTERNAL
      tensor.rawData = null
      offset += raw.byteLength
    }
  } finally {
    closeSync(fd)
  }
  writeFileSync(path, encodeModel(model))
}
