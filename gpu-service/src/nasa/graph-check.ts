import type { ModelProto } from '../onnx/onnx-proto.ts'

/**
 * Structural checks in the spirit of `onnx.checker` (which has no JavaScript port): every node input
 * is a graph input, an initializer or an earlier node's output (so nodes are topologically sorted);
 * no tensor is produced twice; every graph output is produced; every node domain has an opset import.
 * Returns the problems found (empty when the graph is well formed).
 */
export function checkGraph(model: ModelProto): string[] {
  const problems: string[] = []
  const graph = model.graph
  if (!graph) return ['no graph']
  const defined = new Set<string>([...(graph.input ?? []).map((i) => i.name ?? ''), ...(graph.initializer ?? []).map((t) => t.name ?? '')])
  const domains = new Set((model.opsetImport ?? []).map((o) => o.domain || 'ai.onnx'))
  const nodeNames = new Set<string>()
  for (const node of graph.node ?? []) {
    if (node.name) {
      if (nodeNames.has(node.name)) problems.push(`node name ${node.name} is used twice`)
      nodeNames.add(node.name)
    }
    const domain = node.domain || 'ai.onnx'
    if (!domains.has(domain)) problems.push(`node ${node.name}: domain ${domain} has no opset import`)
    for (const input of node.input ?? []) {
      if (input && !defined.has(input)) problems.push(`node ${node.name} (${node.opType}) reads ${input} before it is defined`)
    }
    for (const output of node.output ?? []) {
      if (!output) continue
      if (defined.has(output)) problems.push(`tensor ${output} is produced twice`)
      defined.add(output)
    }
  }
  for (const output of graph.output ?? []) if (!defined.has(output.name ?? '')) problems.push(`graph output ${output.name} is never produced`)
  return problems
}
