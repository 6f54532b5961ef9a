import { toFloat16Array } from '../onnx/float16.ts'
import { DataType, toNumber, type AttributeProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../onnx/onnx-proto.ts'
import { GraphIndex } from './graph-index.ts'

/** `nasa-proj`: NASA with the projection (guidance-combine.ts); the same `nasa_scale` input. */
export type GuidanceMode = 'nasa' | 'nasa-proj' | 'nag'
export type NagNorm = 'l1' | 'l2'

/** The input names the rewritten graph adds (README.md in this folder). */
export const NEGATIVE_CONTEXT_INPUT = 'negative_encoder_hidden_states'
export const NASA_SCALE_INPUT = 'nasa_scale'
export const NAG_INPUTS = { scale: 'nag_scale', tau: 'nag_tau', alpha: 'nag_alpha' } as const

/** How the attention output Z is laid out, which fixes the per-token channel axes (NAG norms, NASA projection). */
export type ZLayout = 'BSC' | 'BHSD'

/**
 * Shared state of one rewrite: the graph index, the nodes being added, the negative copies of the
 * context-derived tensors, and the guidance inputs.
 */
export class RewriteContext {
  readonly model: ModelProto
  readonly index: GraphIndex
  readonly contextInput: string
  readonly mode: GuidanceMode
  readonly norm: NagNorm
  readonly floatType: number
  readonly opset: number
  readonly added: NodeProto[] = []
  private readonly negatives = new Map<string, string>()
  private readonly shared = new Map<string, string>()
  private readonly names = new Set<string>()
  private counter = 0

  constructor(model: ModelProto, options: { contextInput: string; mode: GuidanceMode; norm: NagNorm }) {
    this.model = model
    this.contextInput = options.contextInput
    this.mode = options.mode
    this.norm = options.norm
    const graph = model.graph ?? {}
    this.index = new GraphIndex(graph, options.contextInput)
    const context = (graph.input ?? []).find((i) => i.name === options.contextInput)
    this.floatType = context?.type?.tensorType?.elemType ?? DataType.FLOAT
    this.opset = toNumber((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version) || 17
    for (const node of graph.node ?? []) for (const o of node.output ?? []) this.names.add(o)
    for (const t of graph.initializer ?? []) if (t.name) this.names.add(t.name)
    for (const i of graph.input ?? []) if (i.name) this.names.add(i.name)
  }

  /** A fresh tensor or node name based on `base`. */
  fresh(base: string): string {
    let name = base
    while (this.names.has(name)) name = `${base}_${++this.counter}`
    this.names.add(name)
    return name
  }

  addNode(opType: string, inputs: string[], attribute: AttributeProto[] = [], name = opType, domain?: string): string {
    const output = this.fresh(`nasa/${name}_out`)
    const node: NodeProto = { opType, input: inputs, output: [output], name: this.fresh(`nasa/${name}`), attribute }
    if (domain) node.domain = domain
    this.added.push(node)
    return output
  }

  /**
   * The negative counterpart of a context-derived tensor: the same computation fed by
   * `negative_encoder_hidden_states`, built once per tensor and shared between layers.
   */
  negativeOf(tensor: string): string {
    if (tensor === this.contextInput) return NEGATIVE_CONTEXT_INPUT
    if (this.index.classOf(tensor) !== 'context') return tensor
    const known = this.negatives.get(tensor)
    if (known) return known
    const node = this.index.producer.get(tensor)
    if (!node) throw new Error(`internal: context tensor ${tensor} has no producer`)
    const outputs = (node.output ?? []).map((o) => (o ? this.fresh(`${o}/negative`) : ''))
    ;(node.output ?? []).forEach((o, i) => o && this.negatives.set(o, outputs[i] as string))
    const inputs = (node.input ?? []).map((i) => this.negativeOf(i))
    this.added.push({ ...node, name: this.fresh(`${node.name ?? node.opType}/negative`), input: inputs, output: outputs })
    return this.negatives.get(tensor) as string
  }

  /** Clones `chain` (in order) with `replace` applied to inputs; returns the clone of `output`. */
  cloneChain(chain: NodeProto[], replace: Map<string, string>, output: string): string {
    const mapping = new Map(replace)
    for (const node of chain) {
      const outputs = (node.output ?? []).map((o) => (o ? this.fresh(`${o}/negative`) : ''))
      ;(node.output ?? []).forEach((o, i) => o && mapping.set(o, outputs[i] as string))
      this.added.push({ ...node, name: this.fresh(`${node.name ?? node.opType}/negative`), input: (node.input ?? []).map((i) => mapping.get(i) ?? i), output: outputs })
    }
    const result = mapping.get(output)
    if (!result) throw new Error(`internal: ${output} is not produced by the cloned chain`)
    return result
  }

  /** A scalar constant in the graph's float type. */
  scalar(value: number): string {
    const key = `scalar:${value}`
    const known = this.shared.get(key)
    if (known) return known
    const name = this.fresh(`nasa/const_${String(value).replace(/[^0-9a-z]/gi, '_')}`)
    const raw = this.floatType === DataType.FLOAT16 ? toFloat16Array(new Float32Array([value])) : new Float32Array([value])
    this.model.graph?.initializer?.push({ name, dims: [], dataType: this.floatType, rawData: new Uint8Array(raw.buffer) })
    this.shared.set(key, name)
    return name
  }

  int64(values: number[]): string {
    const key = `i64:${values.join(',')}`
    const known = this.shared.get(key)
    if (known) return known
    const name = this.fresh(`nasa/const_i64_${values.join('_').replaceAll('-', 'm')}`)
    const raw = new BigInt64Array(values.map(BigInt))
    this.model.graph?.initializer?.push({ name, dims: [values.length], dataType: DataType.INT64, rawData: new Uint8Array(raw.buffer) })
    this.shared.set(key, name)
    return name
  }

  /** A `[batch]` float32 graph input, cast to the graph's float type and shaped to broadcast over Z. */
  rowValue(input: string, layout: ZLayout): string {
    const key = `row:${input}:${layout}`
    const known = this.shared.get(key)
    if (known) return known
    this.declareRowInput(input)
    const typed = this.floatType === DataType.FLOAT ? input : this.cachedNode(`cast:${input}`, () => this.addNode('Cast', [input], [{ name: 'to', type: 2, i: this.floatType }], `${input}_cast`))
    const shape = layout === 'BHSD' ? [-1, 1, 1, 1] : [-1, 1, 1]
    const shaped = this.addNode('Reshape', [typed, this.int64(shape)], [], `${input}_${layout}`)
    this.shared.set(key, shaped)
    return shaped
  }

  /** Memoises one node output under `key`. */
  cachedNode(key: string, make: () => string): string {
    const known = this.shared.get(key)
    if (known) return known
    const made = make()
    this.shared.set(key, made)
    return made
  }

  private declareRowInput(name: string): void {
    const inputs = this.model.graph?.input ?? []
    if (inputs.some((i) => i.name === name)) return
    const context = inputs.find((i) => i.name === this.contextInput)
    const batchDim = context?.type?.tensorType?.shape?.dim?.[0] ?? { dimParam: 'batch_size' }
    const info: ValueInfoProto = { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [batchDim] } } } }
    inputs.push(info)
  }

  declareNegativeContext(): void {
    const inputs = this.model.graph?.input ?? []
    if (inputs.some((i) => i.name === NEGATIVE_CONTEXT_INPUT)) return
    const context = inputs.find((i) => i.name === this.contextInput)
    if (!context) throw new Error(`internal: no input ${this.contextInput}`)
    inputs.push({ ...context, name: NEGATIVE_CONTEXT_INPUT })
  }
}
