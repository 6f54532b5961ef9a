import type { ModelProto, NodeProto } from '../onnx/onnx-proto.ts'
import { DataType } from '../onnx/onnx-proto.ts'

/**
 * Test-only: onnxruntime's CPU provider has no packed-KV MultiHeadAttention, so to run a packed-KV
 * graph here, each `MultiHeadAttention(q, kv[B, L, H, 2, d])` becomes `MultiHeadAttention(q, k, v)`
 * with k, v split out of the packed tensor. The packed tensor itself (and the rewrite's negative copy
 * of it) is still computed, so the rewrite's handling of packed KV is what gets tested.
 */
export function unpackKvForCpu(model: ModelProto): number {
  const graph = model.graph
  if (!graph) return 0
  const shape = '__unpack_kv_shape'
  graph.initializer?.push({ name: shape, dims: [3], dataType: DataType.INT64, rawData: new Uint8Array(new BigInt64Array([0n, 0n, -1n]).buffer) })
  const nodes: NodeProto[] = []
  let count = 0
  for (const node of graph.node ?? []) {
    const inputs = node.input ?? []
    if (node.opType === 'MultiHeadAttention' && node.domain === 'com.microsoft' && inputs.length === 2) {
      const packed = inputs[1] as string
      const [k5, v5] = [`${packed}__k5`, `${packed}__v5`]
      nodes.push({ opType: 'Split', input: [packed], output: [k5, v5], name: `${node.name}__split`, attribute: [{ name: 'axis', type: 2, i: 3 }] })
      nodes.push({ opType: 'Reshape', input: [k5, shape], output: [`${packed}__k`], name: `${node.name}__k` })
      nodes.push({ opType: 'Reshape', input: [v5, shape], output: [`${packed}__v`], name: `${node.name}__v` })
      node.input = [inputs[0] as string, `${packed}__k`, `${packed}__v`]
      count++
    }
    nodes.push(node)
  }
  graph.node = nodes
  return count
}
