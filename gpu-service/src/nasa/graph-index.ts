import type { GraphProto, NodeProto } from '../onnx/onnx-proto.ts'

/**
 * What a tensor depends on, which decides what a negative branch must copy:
 * - `constant`: initializers, Constant outputs and anything computed from constants only;
 * - `shape`: shape metadata (Shape/Size outputs and what is computed from them and constants) —
 *   it does not carry the prompt, so negative branches share it;
 * - `context`: derived from the context input (`encoder_hidden_states`) and otherwise only from
 *   constants and shapes — the keys and values of cross-attention live here;
 * - `data`: everything else (the latent path, including queries).
 */
export type TensorClass = 'constant' | 'shape' | 'context' | 'data'

const SHAPE_OPS = new Set(['Shape', 'Size'])

export class GraphIndex {
  readonly graph: GraphProto
  readonly producer = new Map<string, NodeProto>()
  readonly consumers = new Map<string, NodeProto[]>()
  readonly classes = new Map<string, TensorClass>()

  constructor(graph: GraphProto, contextInput: string) {
    this.graph = graph
    const nodes = graph.node ?? []
    for (const node of nodes) {
      for (const output of node.output ?? []) if (output) this.producer.set(output, node)
      for (const input of node.input ?? []) {
        if (!input) continue
        const list = this.consumers.get(input)
        if (list) list.push(node)
        else this.consumers.set(input, [node])
      }
    }
    for (const t of graph.initializer ?? []) if (t.name) this.classes.set(t.name, 'constant')
    for (const input of graph.input ?? []) {
      if (input.name && !this.classes.has(input.name)) this.classes.set(input.name, input.name === contextInput ? 'context' : 'data')
    }
    for (const node of topologicalOrder(nodes, this.producer)) {
      const cls = classify(node, (name) => (name ? (this.classes.get(name) ?? 'data') : 'constant'))
      for (const output of node.output ?? []) if (output) this.classes.set(output, cls)
    }
  }

  classOf(name: string): TensorClass {
    return name ? (this.classes.get(name) ?? 'data') : 'constant'
  }

  consumersOf(name: string): NodeProto[] {
    return this.consumers.get(name) ?? []
  }
}

function classify(node: NodeProto, classOf: (name: string) => TensorClass): TensorClass {
  const inputs = (node.input ?? []).map(classOf)
  if (node.opType === 'Constant' || inputs.length === 0) return 'constant'
  if (SHAPE_OPS.has(node.opType ?? '')) return inputs[0] === 'constant' ? 'constant' : 'shape'
  if (inputs.includes('data')) return 'data'
  if (inputs.includes('context')) return 'context'
  if (inputs.includes('shape')) return 'shape'
  return 'constant'
}

/** Nodes in an order where every producer comes before its consumers (Kahn's algorithm, stable). */
export function topologicalOrder(nodes: NodeProto[], producer: Map<string, NodeProto>): NodeProto[] {
  const pending = new Map<NodeProto, number>()
  const dependents = new Map<NodeProto, NodeProto[]>()
  for (const node of nodes) {
    const deps = new Set<NodeProto>()
    for (const input of node.input ?? []) {
      const p = input ? producer.get(input) : undefined
      if (p && p !== node) deps.add(p)
    }
    pending.set(node, deps.size)
    for (const d of deps) {
      const list = dependents.get(d)
      if (list) list.push(node)
      else dependents.set(d, [node])
    }
  }
  const order: NodeProto[] = []
  const ready = nodes.filter((n) => pending.get(n) === 0)
  const position = new Map(nodes.map((n, i) => [n, i]))
  while (ready.length > 0) {
    // Keep the original order where possible: take the earliest ready node.
    ready.sort((a, b) => (position.get(a) as number) - (position.get(b) as number))
    const node = ready.shift() as NodeProto
    order.push(node)
    for (const d of dependents.get(node) ?? []) {
      const left = (pending.get(d) as number) - 1
      pending.set(d, left)
      if (left === 0) ready.push(d)
    }
  }
  if (order.length !== nodes.length) throw new Error('the graph has a cycle')
  return order
}
