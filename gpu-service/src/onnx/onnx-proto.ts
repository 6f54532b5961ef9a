/**
 * ONNX's protobuf messages (the `onnx-proto` package: protobufjs code generated from onnx.proto).
 * Everything in the project that reads or writes `.onnx` files goes through this module.
 */
import onnxProto from 'onnx-proto'

export const onnx = onnxProto.onnx
export type ModelProto = onnxProto.onnx.IModelProto
export type GraphProto = onnxProto.onnx.IGraphProto
export type NodeProto = onnxProto.onnx.INodeProto
export type TensorProto = onnxProto.onnx.ITensorProto
export type AttributeProto = onnxProto.onnx.IAttributeProto
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto

/** TensorProto.DataType values used here (onnx.proto numbering). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const
export type DataTypeCode = (typeof DataType)[keyof typeof DataType]

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const

/** protobufjs decodes int64 as Long (the `long` package is installed) or number; this makes a number. */
export function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0
  if (typeof value === 'number') return value
  if (typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber()
  return Number(value)
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish()
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes)
}
