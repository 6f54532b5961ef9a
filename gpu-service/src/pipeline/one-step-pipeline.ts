import { performance } from 'node:perf_hooks'
import { loadBundle, type ModelBundle } from '../bundle/load/model-bundle.ts'
import { latentNoise } from '../diffusion/gaussian-noise.ts'
import { alphaBarAt, alphasCumprod } from '../diffusion/noise-schedule.ts'
import { predictX0, toVaeInput } from '../diffusion/one-step.ts'
import { contentTypeOf, encodeImage } from '../imaging/encode-image.ts'
import { toRgb8 } from '../imaging/to-rgb8.ts'
import type { Batch, BatchResult, BatchRunner, ImageRow, StageTimings } from '../generation/batch.ts'
import type { ResolvedGuidance } from '../generation/generation-request.ts'
import { createSession, disposeSession, runSession, tensor, type Feeds, type LoadedSession, type SessionOptions, type Tensor } from '../runtime/onnx-backend.ts'
import { loadGuidedUnet } from '../nasa/guided-unet.ts'
import type { GuidanceMode as RewriteMode, NagNorm } from '../nasa/rewrite-context.ts'
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts'
import { findTensor, floatFeed, idsFeed, readFloats, timestepFeed } from './tensor-io.ts'
import { TextEmbeddingCache } from './text-embedding-cache.ts'

export interface PipelineOptions extends SessionOptions {
  /** Prompts whose text features are kept (LRU). Default 256. */
  embeddingCacheSize?: number
  onProgress?: (line: string) => void
  /** Rewritten UNets to build at load time; others are built on first use. Default none. */
  preloadGuidance?: RewriteMode[]
  /** NAG's per-token norm. Default l2. */
  nagNorm?: NagNorm
  /** Where rewritten UNets with external data go when the bundle folder is read-only. */
  cacheDir?: string
}

/**
 * The one-step text-to-image pipeline: tokenize → text encoder → UNet once at the one-step timestep
 * → x0 by the model's prediction type → ÷ VAE scaling factor → VAE decoder → 8-bit RGB → PNG/WebP/JPEG.
 * A batch of N images is one batched UNet call and one batched VAE call. It runs what it is given:
 * requests are validated before they are batched (generation/generation-request.ts).
 *
 * `run()` of onnxruntime-node blocks its thread: the service uses this class inside a worker
 * (`pipeline-worker.ts`); tests, the CLI and benchmarks may call it directly.
 */
export class OneStepPipeline implements BatchRunner {
  readonly bundle: ModelBundle
  private readonly tokenizer: ClipTokenizer
  private readonly textEncoder: LoadedSession
  private readonly unet: LoadedSession
  private readonly vae: LoadedSession
  private readonly alphaBar: number
  private readonly sequenceLength: number
  readonly embeddings: TextEmbeddingCache
  private readonly options: PipelineOptions
  private readonly guided = new Map<RewriteMode, Promise<LoadedSession>>()

  private constructor(bundle: ModelBundle, tokenizer: ClipTokenizer, sessions: LoadedSession[], options: PipelineOptions) {
    this.bundle = bundle
    this.tokenizer = tokenizer
    ;[this.textEncoder, this.unet, this.vae] = sessions as [LoadedSession, LoadedSession, LoadedSession]
    this.alphaBar = alphaBarAt(alphasCumprod(bundle.scheduler), bundle.oneStepTimestep)
    const idsShape = findTensor(this.textEncoder.inputs, 'input_ids', 'text_encoder').shape
    this.sequenceLength = typeof idsShape[1] === 'number' ? idsShape[1] : 77
    this.embeddings = new TextEmbeddingCache(options.embeddingCacheSize ?? 256)
    this.options = options
  }

  /**
   * The UNet rewritten for NASA (either form) or NAG (`nasa/rewrite.ts`), built once per mode. Requests
   * without a negative prompt never touch it: they run the original graph.
   */
  guidedUnet(mode: RewriteMode): Promise<LoadedSession> {
    let session = this.guided.get(mode)
    if (!session) {
      const { onProgress, log, ...sessionOptions } = this.options
      const say = onProgress ?? log ?? console.log
      say(`building the ${mode === 'nasa-proj' ? 'NASA (projection)' : mode.toUpperCase()} UNet…`)
      session = loadGuidedUnet(this.bundle.files.unet, { ...sessionOptions, log: say, mode, norm: this.options.nagNorm ?? 'l2' }).then((g) => g.session)
      this.guided.set(mode, session)
      session.catch(() => this.guided.delete(mode))
    }
    return session
  }

  static async load(bundleDir: string, options: PipelineOptions = {}): Promise<OneStepPipeline> {
    const progress = options.onProgress ?? (() => {})
    const bundle = loadBundle(bundleDir)
    const tokenizer = ClipTokenizer.fromDirectory(bundle.files.tokenizerDir)
    const sessions: LoadedSession[] = []
    for (const [name, path] of [
      ['text encoder', bundle.files.textEncoder],
      ['UNet', bundle.files.unet],
      ['VAE decoder', bundle.files.vaeDecoder],
    ] as const) {
      const t0 = performance.now()
      progress(`loading ${name} (${sessions.length + 1}/3)…`)
      sessions.push(await createSession(path, options))
      progress(`loaded ${name} in ${Math.round(performance.now() - t0)} ms on ${sessions.at(-1)?.provider}`)
    }
    const pipeline = new OneStepPipeline(bundle, tokenizer, sessions, options)
    for (const mode of options.preloadGuidance ?? []) await pipeline.guidedUnet(mode)
    return pipeline
  }

  /** Text features `[prompts.length, tokens, hidden]` for the prompts, through the LRU cache. */
  async encodeText(prompts: string[], timings: StageTimings): Promise<TextFeatures> {
    const t0 = performance.now()
    const rows: (Float32Array | undefined)[] = prompts.map((p) => this.embeddings.get(p))
    const framed = prompts.map((p) => this.tokenizer.frame(p, this.sequenceLength))
    const missing = [...new Set(prompts.filter((_, i) => rows[i] === undefined).map((p) => prompts.indexOf(p)))]
    timings.tokenize += performance.now() - t0

    const t1 = performance.now()
    const hiddenName = 'last_hidden_state'
    const fresh = new Map<string, Float32Array>()
    if (missing.length > 0) {
      const ids = new Int32Array(missing.length * this.sequenceLength)
      missing.forEach((row, i) => ids.set((framed[row] as { ids: Int32Array }).ids, i * this.sequenceLength))
      const idsInfo = findTensor(this.textEncoder.inputs, 'input_ids', 'text_encoder')
      findTensor(this.textEncoder.outputs, hiddenName, 'text_encoder')
      const out = await runSession(this.textEncoder, { input_ids: idsFeed(idsInfo, ids, [missing.length, this.sequenceLength]) }, [hiddenName])
      const hidden = readFloats(out[hiddenName] as Tensor)
      const rowSize = hidden.length / missing.length
      missing.forEach((row, i) => fresh.set(prompts[row] as string, hidden.slice(i * rowSize, (i + 1) * rowSize)))
      for (const [prompt, row] of fresh) this.embeddings.set(prompt, row)
    }
    const resolved = prompts.map((p, i) => rows[i] ?? (fresh.get(p) as Float32Array))
    const rowSize = (resolved[0] as Float32Array).length
    const features = new Float32Array(rowSize * prompts.length)
    resolved.forEach((row, i) => features.set(row, i * rowSize))
    timings.textEncoder += performance.now() - t1
    return { features, dims: [prompts.length, this.sequenceLength, rowSize / this.sequenceLength], dropped: framed.map((f) => f.dropped) }
  }

  /** Runs a batch: one image per row, in row order. */
  async run(batch: Batch): Promise<BatchResult> {
    const start = performance.now()
    const { pixels, dropped, timings } = await this.decode(batch)
    const { width, height } = batch.size
    const t2 = performance.now()
    const rgb = toRgb8(pixels, [batch.rows.length, 3, height, width])
    const images = await Promise.all(
      rgb.map(async (data, i) => ({
        data: await encodeImage(data, width, height, batch.outputFormat),
        contentType: contentTypeOf(batch.outputFormat),
        seed: (batch.rows[i] as ImageRow).seed,
        width,
        height,
        droppedTokens: dropped[i] as number,
      })),
    )
    timings.encode = performance.now() - t2
    timings.total = performance.now() - start
    return { images, timings }
  }

  /**
   * Everything up to the VAE output: `[batch, 3, height, width]` floats in about [−1, 1], before the
   * 8-bit rounding (tests compare batched and single calls here).
   */
  async decode(batch: Batch): Promise<{ pixels: Float32Array; dropped: number[]; timings: StageTimings }> {
    const timings: StageTimings = { tokenize: 0, textEncoder: 0, unet: 0, vae: 0, encode: 0, total: 0 }
    const { rows, mode } = batch
    const { width, height } = batch.size
    const f = this.bundle.vaeScaleFactor
    const latentShape = [this.bundle.latentChannels, height / f, width / f] as const
    const latentSize = latentShape[0] * latentShape[1] * latentShape[2]

    const text = await this.encodeText(rows.map((r) => r.prompt), timings)
    const negatives = mode === 'none' ? undefined : await this.encodeText(rows.map((r) => r.negative ?? ''), timings)

    const t0 = performance.now()
    const z = new Float32Array(rows.length * latentSize)
    rows.forEach((row, i) => z.set(latentNoise(row.seed, latentShape), i * latentSize))
    const latentDims = [rows.length, ...latentShape]
    let modelOutput: Float32Array
    if (mode === 'none' || !negatives) {
      modelOutput = await this.runUnet(this.unet, z, latentDims, text)
    } else if (mode === 'cfg') {
      modelOutput = await this.classifierFree(batch, z, latentDims, text, negatives)
    } else {
      const session = await this.guidedUnet(mode)
      modelOutput = await this.runUnet(session, z, latentDims, text, guidanceFeeds(session, batch, negatives))
    }
    const x0 = predictX0({ z, modelOutput, alphaBar: this.alphaBar, predictionType: this.bundle.scheduler.prediction_type })
    const vaeInput = toVaeInput(x0, this.bundle.vaeScalingFactor, x0)
    timings.unet = performance.now() - t0

    const t1 = performance.now()
    const vaeFeed = floatFeed(findTensor(this.vae.inputs, 'latent_sample', 'vae_decoder'), vaeInput, latentDims)
    const vaeOut = await runSession(this.vae, { latent_sample: vaeFeed })
    const pixels = readFloats((vaeOut.sample ?? Object.values(vaeOut)[0]) as Tensor)
    timings.vae = performance.now() - t1

    return { pixels, dropped: text.dropped, timings }
  }

  /** One UNet call: latents, the one-step timestep, text features, plus any guidance feeds. */
  private async runUnet(session: LoadedSession, z: Float32Array, latentDims: number[], text: TextFeatures, extra: Feeds = {}): Promise<Float32Array> {
    const inputs = session.inputs
    const feeds: Feeds = {
      sample: floatFeed(findTensor(inputs, 'sample', 'unet'), z, latentDims),
      timestep: timestepFeed(findTensor(inputs, 'timestep', 'unet'), this.bundle.oneStepTimestep, latentDims[0] as number),
      encoder_hidden_states: floatFeed(findTensor(inputs, 'encoder_hidden_states', 'unet'), text.features, text.dims),
      ...extra,
    }
    const out = await runSession(session, feeds)
    return readFloats((out.out_sample ?? Object.values(out)[0]) as Tensor)
  }

  /** The CFG baseline: the plain UNet on [positive rows; negative rows], then ε− + s·(ε+ − ε−) per row. */
  private async classifierFree(batch: Batch, z: Float32Array, latentDims: number[], text: TextFeatures, negatives: TextFeatures): Promise<Float32Array> {
    const count = latentDims[0] as number
    const doubled = new Float32Array(z.length * 2)
    doubled.set(z)
    doubled.set(z, z.length)
    const context = new Float32Array(text.features.length * 2)
    context.set(text.features)
    context.set(negatives.features, text.features.length)
    const both = await this.runUnet(this.unet, doubled, [2 * count, ...latentDims.slice(1)], { ...text, features: context, dims: [2 * count, ...text.dims.slice(1)] })
    const per = z.length / count
    const out = new Float32Array(z.length)
    batch.rows.forEach((row, i) => {
      const scale = row.guidance.mode === 'cfg' ? row.guidance.scale : 1
      for (let j = i * per; j < (i + 1) * per; j++) {
        const positive = both[j] as number
        const negative = both[z.length + j] as number
        out[j] = negative + scale * (positive - negative)
      }
    })
    return out
  }

  async dispose(): Promise<void> {
    const guided = await Promise.allSettled(this.guided.values())
    const sessions = [this.textEncoder, this.unet, this.vae, ...guided.flatMap((g) => (g.status === 'fulfilled' ? [g.value] : []))]
    await Promise.all(sessions.map(disposeSession))
  }
}

interface TextFeatures {
  features: Float32Array
  dims: number[]
  dropped: number[]
}

/** The rewritten UNet's extra inputs: negative features and per-row values (0 / φ = 1 turn a row off). */
function guidanceFeeds(session: LoadedSession, batch: Batch, negatives: TextFeatures): Feeds {
  const perRow = (pick: (g: ResolvedGuidance) => number) => tensor('float32', Float32Array.from(batch.rows, (r) => pick(r.guidance)), [batch.rows.length])
  const feeds: Feeds = {
    negative_encoder_hidden_states: floatFeed(findTensor(session.inputs, 'negative_encoder_hidden_states', 'guided unet'), negatives.features, negatives.dims),
  }
  if (batch.mode === 'nasa' || batch.mode === 'nasa-proj') {
    feeds.nasa_scale = perRow((g) => (g.mode === 'nasa' ? g.alpha : 0))
  } else {
    feeds.nag_scale = perRow((g) => (g.mode === 'nag' ? g.scale : 1))
    feeds.nag_tau = perRow((g) => (g.mode === 'nag' ? g.tau : 1))
    feeds.nag_alpha = perRow((g) => (g.mode === 'nag' ? g.alpha : 0))
  }
  return feeds
}
