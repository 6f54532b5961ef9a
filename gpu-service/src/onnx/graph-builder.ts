import { AttributeType, DataType, type AttributeProto, type DataTypeCode, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './onnx-proto.ts'
import { toFloat16Array } from './float16.ts'
import { WEIGHT_MANIFEST_FORMAT, type WeightEntry, type WeightManifest } from './weight-manifest.ts'

export type Dim = number | string

/** A float attribute (plain numbers are INT attributes, as in most ONNX ops). */
export interface FloatAttr {
  float: number
}
export type AttrValue = number | number[] | string | FloatAttr | { floats: number[] } | { tensor: TensorProto }

export const float = (value: number): FloatAttr => ({ float: value })

export interface OpOptions {
  domain?: string
  /** Number of outputs (default 1). */
  outputs?: number
  /** Node name; default: the current scope plus the op type. */
  name?: string
}

/** Deterministic weights: mulberry32 uniforms → Box–Muller normals. */
class WeightRandom {
  private state: number
  private spare: number | undefined
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296
  }
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare
      this.spare = undefined
      return value
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()))
    const theta = 2 * Math.PI * this.uniform()
    this.spare = r * Math.sin(theta)
    return r * Math.cos(theta)
  }
}

export interface GraphBuilderOptions {
  /** Seed of the random weights. */
  seed: number
  /** Storage type of float weights; fp16 graphs compute in fp16 too. Default fp32. */
  weightType?: 'fp32' | 'fp16'
  /**
   * Structure only: `weight()` draws nothing and names its tensor as external data in this file
   * (e.g. `model.onnx_data`), described in `weightManifest()`. Other constants stay inline.
   */
  externalWeights?: string
}

/**
 * Builds ONNX graphs in code: inputs, seeded weights, nodes, outputs, with torch-style hierarchical
 * names (`scope('down_blocks.0', …)`) so generated models look like exported ones.
 *
 * @example
 * const g = new GraphBuilder('mlp', { seed: 1 })
 * const x = g.input('x', DataType.FLOAT, ['batch', 8])
 * g.output('y', DataType.FLOAT, ['batch', 4], g.op('MatMul', [x, g.weight('w', [8, 4])]))
 * const model = g.toModel()
 */
export class GraphBuilder {
  readonly name: string
  readonly floatType: DataTypeCode
  private readonly random: WeightRandom
  private readonly nodes: NodeProto[] = []
  private readonly initializers: TensorProto[] = []
  private readonly inputs: ValueInfoProto[] = []
  private readonly outputs: ValueInfoProto[] = []
  private readonly scopes: string[] = []
  private readonly used = new Set<string>()
  private readonly constants = new Map<string, string>()
  private readonly domains = new Set<string>()
  private readonly seed: number
  private readonly externalWeights: string | undefined
  private readonly manifestEntries: WeightEntry[] = []
  /** Normals drawn so far (inline) or reserved (external): where the next random weight starts. */
  private normals = 0
  private externalBytes = 0

  constructor(name: string, options: GraphBuilderOptions) {
    this.name = name
    this.seed = options.seed >>> 0
    this.random = new WeightRandom(options.seed)
    this.floatType = options.weightType === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT
    this.externalWeights = options.externalWeights
  }

  /** Runs `body` with `name` appended to the naming scope. */
  scope<T>(name: string | number, body: () => T): T {
    this.scopes.push(String(name))
    try {
      return body()
    } finally {
      this.scopes.pop()
    }
  }

  private unique(base: string): string {
    let name = base
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`
    this.used.add(name)
    return name
  }

  private scoped(leaf: string): string {
    return [...this.scopes, leaf].join('.')
  }

  input(name: string, elemType: DataTypeCode, dims: Dim[]): string {
    this.used.add(name)
    this.inputs.push(valueInfo(name, elemType, dims))
    return name
  }

  /** Declares a graph output fed by `source` (an Identity renames it when needed). */
  output(name: string, elemType: DataTypeCode, dims: Dim[], source: string): void {
    if (source !== name) {
      this.used.add(name)
      this.nodes.push({ opType: 'Identity', input: [source], output: [name], name: `${name}_identity` })
    }
    this.outputs.push(valueInfo(name, elemType, dims))
  }

  /** A float weight, N(mean, std²) (default mean 0, std 1/sqrt(fan-in) over all but the first dim), or a constant fill. */
  weight(leaf: string, dims: number[], init: { std?: number; mean?: number; fill?: number } = {}): string {
    const count = dims.reduce((a, b) => a * b, 1)
    if (this.externalWeights !== undefined) return this.externalWeight(this.unique(this.scoped(leaf)), dims, count, init)
    const values = new Float32Array(count)
    if (init.fill !== undefined) values.fill(init.fill)
    else {
      const fanIn = dims.length > 1 ? count / (dims[0] as number) : count
      const std = init.std ?? 1 / Math.sqrt(fanIn)
      const mean = init.mean ?? 0
      for (let i = 0; i < count; i++) values[i] = mean + this.random.normal() * std
    }
    if (init.fill === undefined) this.normals += count
    return this.tensor(this.unique(this.scoped(leaf)), dims, values)
  }

  private externalWeight(name: string, dims: number[], count: number, init: { std?: number; mean?: number; fill?: number }): string {
    const length = count * (this.floatType === DataType.FLOAT16 ? 2 : 4)
    let spec: WeightEntry['init']
    if (init.fill !== undefined) spec = { fill: init.fill }
    else {
      const fanIn = dims.length > 1 ? count / (dims[0] as number) : count
      spec = { normal: { start: this.normals, mean: init.mean ?? 0, std: init.std ?? 1 / Math.sqrt(fanIn) } }
      this.normals += count
    }
    const offset = this.externalBytes
    this.externalBytes += length
    this.manifestEntries.push({ name, dims, offset, length, init: spec })
    this.used.add(name)
    this.initializers.push({
      name,
      dims,
      dataType: this.floatType,
      dataLocation: 1, // EXTERNAL
      externalData: [
        { key: 'location', value: this.externalWeights },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    })
    return name
  }

  /** What a structure-only graph's external data holds and how to draw it (see weight-manifest.ts). */
  weightManifest(): WeightManifest {
    if (this.externalWeights === undefined) throw new Error(`${this.name}: weightManifest() needs the externalWeights option`)
    return {
      format: WEIGHT_MANIFEST_FORMAT,
      graph: this.name,
      seed: this.seed,
      dtype: this.floatType === DataType.FLOAT16 ? 'float16' : 'float32',
      dataFile: this.externalWeights,
      bytes: this.externalBytes,
      normals: this.normals,
      tensors: this.manifestEntries,
    }
  }

  /** Adds a float initializer with the given values (stored in the graph's float type). */
  tensor(name: string, dims: number[], values: Float32Array): string {
    this.used.add(name)
    const raw = this.floatType === DataType.FLOAT16 ? toFloat16Array(values) : values
    this.initializers.push({ name, dims, dataType: this.floatType, rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) })
    return name
  }

  /** An int64 constant initializer (shapes, axes), shared between uses. */
  int64(values: number[]): string {
    const key = `i64:${values.join(',')}`
    const existing = this.constants.get(key)
    if (existing) return existing
    const name = this.unique(`const_i64_${values.join('_').replaceAll('-', 'm') || 'empty'}`)
    const data = new BigInt64Array(values.map((v) => BigInt(v)))
    this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) })
    this.constants.set(key, name)
    return name
  }

  /** A float32 constant whatever the graph's float type (e.g. Resize scales). */
  float32(values: number[], dims: number[] = [values.length]): string {
    const name = this.unique(`const_f32_${values.join('_').replace(/[^0-9a-z_]/gi, '_')}`)
    const data = new Float32Array(values)
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(data.buffer) })
    return name
  }

  /** A scalar float constant in the graph's float type, shared between uses. */
  scalar(value: number): string {
    const key = `f:${value}`
    const existing = this.constants.get(key)
    if (existing) return existing
    const name = this.unique(`const_f_${String(value).replace(/[^0-9a-z]/gi, '_')}`)
    this.tensor(name, [], new Float32Array([value]))
    this.constants.set(key, name)
    return name
  }

  /** Adds a node; returns its single output name (or all of them when `outputs` > 1). */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrValue>, options?: OpOptions & { outputs?: 1 }): string
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> | undefined, options: OpOptions & { outputs: number }): string[]
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, options: OpOptions = {}): string | string[] {
    const name = this.unique(options.name ?? this.scoped(opType))
    const count = options.outputs ?? 1
    const outputs = Array.from({ length: count }, (_, i) => this.unique(count === 1 ? `${name}_out` : `${name}_out${i}`))
    const node: NodeProto = { opType, name, input: inputs, output: outputs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) }
    if (options.domain) {
      node.domain = options.domain
      this.domains.add(options.domain)
    }
    this.nodes.push(node)
    return count === 1 ? (outputs[0] as string) : outputs
  }

  /** The finished model. `opset` is the default-domain opset (17 unless an op needs newer). */
  toModel({ opset = 17, producer = 'snoopi-model-builder' }: { opset?: number; producer?: string } = {}): ModelProto {
    const opsetImport = [{ domain: '', version: opset }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))]
    return {
      // IR 8 reads opsets ≤ 18; opset 21+ needs IR 10, opset 23 IR 11.
      irVersion: opset >= 23 ? 11 : opset >= 21 ? 10 : 8,
      producerName: producer,
      opsetImport,
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    }
  }
}

function valueInfo(name: string, elemType: DataTypeCode, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

function attribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) }
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float }
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats }
  return { name, type: AttributeType.TENSOR, t: value.tensor }
}
