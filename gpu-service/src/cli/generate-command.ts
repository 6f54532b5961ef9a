import { writeFileSync } from 'node:fs'
import { extname } from 'node:path'
import { formatSize, parseSize } from '../bundle/load/model-bundle.ts'
import { GUIDANCE_MODES, OUTPUT_FORMATS } from '../contract/limits.ts'
import { batchOf } from '../generation/batch.ts'
import { validateGeneration, type GuidanceSpec } from '../generation/generation-request.ts'
import { OneStepPipeline } from '../pipeline/one-step-pipeline.ts'
import { InvalidRequestError } from '../service/service-error.ts'
import { CliError, parseCliArgs, type Command } from './command.ts'

const usage = `Usage: snoopi generate --bundle <dir> --prompt "<text>" --out <file.png> [options]

Generates images with a one-step model bundle on this machine (no server needed).

Options:
  --bundle <dir>          model bundle (Optimum ONNX layout; see snoopi make-bundle)
  --prompt <text>         what to draw
  --negative-prompt <t>   what to keep out (NASA by default: the UNet's cross-attention steers away)
  --guidance <mode>       nasa (default), nag, cfg (classifier-free baseline, 2× UNet) or none
  --alpha <a>             NASA α (default: the bundle's) or NAG α (default 0.25)
  --projection <on|off>   NASA with projection: Z+ − α·max(0, ⟨Z+,Z−⟩/‖Z−‖²)·Z− per token (default:
                          on when the bundle's snoopi.json gives nasa_projection_alpha)
  --scale <s>             NAG φ (default 5) or CFG scale (default 2)
  --tau <t>               NAG τ (default 2.5)
  --seed <n>              0 … 2^64−1 (default 0); image i of a batch uses seed + i
  --size <WxH>            one of the bundle's sizes (default: its first)
  --batch <n>             images in one batched call (default 1); files get -0, -1, … suffixes
  --format <png|webp|jpeg> default: from the --out extension, else png
  --device <cpu|cuda>     execution provider (default cpu; cuda falls back to cpu with a log line)
  --out <file>            where to write the image`

/** `value` as a member of `list`, or undefined. */
const oneOf = <T extends string>(list: readonly T[], value: string): T | undefined => list.find((item) => item === value)

function outPaths(out: string, batch: number): string[] {
  if (batch === 1) return [out]
  const ext = extname(out)
  const stem = ext ? out.slice(0, -ext.length) : out
  return Array.from({ length: batch }, (_, i) => `${stem}-${i}${ext}`)
}

/** `snoopi generate`: one prompt to one or more image files. */
export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate images from a prompt with a local bundle',
  usage,
  async run(argv, io) {
    const { values } = parseCliArgs({
      args: argv,
      options: {
        bundle: { type: 'string' },
        prompt: { type: 'string' },
        'negative-prompt': { type: 'string' },
        guidance: { type: 'string', default: 'nasa' },
        alpha: { type: 'string' },
        projection: { type: 'string' },
        scale: { type: 'string' },
        tau: { type: 'string' },
        seed: { type: 'string', default: '0' },
        size: { type: 'string' },
        batch: { type: 'string', default: '1' },
        format: { type: 'string' },
        device: { type: 'string', default: 'cpu' },
        out: { type: 'string' },
      },
    })
    if (!values.bundle) throw new CliError('--bundle is required', 2)
    if (values.prompt === undefined) throw new CliError('--prompt is required', 2)
    if (!values.out) throw new CliError('--out is required', 2)
    const mode = oneOf(GUIDANCE_MODES, values.guidance)
    if (!mode) throw new CliError(`--guidance must be one of ${GUIDANCE_MODES.join(', ')}`, 2)
    const number = (name: 'alpha' | 'scale' | 'tau') => {
      const raw = values[name]
      if (raw === undefined) return undefined
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n)) throw new CliError(`--${name} must be a number`, 2)
      return n
    }
    if (values.projection !== undefined && values.projection !== 'on' && values.projection !== 'off') throw new CliError('--projection must be on or off', 2)
    const guidance: GuidanceSpec = { mode, alpha: number('alpha'), scale: number('scale'), tau: number('tau') }
    if (values.projection !== undefined) guidance.projection = values.projection === 'on'
    const batch = Number(values.batch)
    if (!Number.isInteger(batch) || batch < 1 || batch > 16) throw new CliError('--batch must be an integer from 1 to 16', 2)
    if (!/^\d{1,20}$/.test(values.seed)) throw new CliError('--seed must be an integer in [0, 2^64-1]', 2)
    const seed = BigInt(values.seed)
    if (values.size !== undefined && !/^\d+x\d+$/.test(values.size)) throw new CliError('--size must look like 512x512', 2)
    const format = oneOf(OUTPUT_FORMATS, values.format ?? (extname(values.out).slice(1).toLowerCase().replace('jpg', 'jpeg') || 'png'))
    if (!format) throw new CliError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`, 2)
    if (values.device !== 'cpu' && values.device !== 'cuda') throw new CliError('--device must be cpu or cuda', 2)

    const progress = (line: string) => io.stderr.write(`${line}\n`)
    let pipeline: OneStepPipeline
    try {
      pipeline = await OneStepPipeline.load(values.bundle, { device: values.device, onProgress: progress, log: progress })
    } catch (error) {
      throw new CliError((error as Error).message, 1)
    }
    try {
      // The same check as the HTTP route's, against the loaded bundle; a bad value is exit code 2.
      const request = validateGeneration(pipeline.bundle, {
        prompt: values.prompt,
        negativePrompt: values['negative-prompt'],
        n: batch,
        seed,
        size: values.size ? parseSize(values.size) : undefined,
        outputFormat: format,
        guidance,
      })
      const { images, timings } = await pipeline.run(batchOf([request]))
      const paths = outPaths(values.out, batch)
      images.forEach((image, i) => writeFileSync(paths[i] as string, image.data))
      const dropped = images[0]?.droppedTokens ?? 0
      if (dropped > 0) progress(`note: the prompt is longer than CLIP's 75 tokens; the last ${dropped} were dropped`)
      const size = images[0] ? formatSize(images[0]) : ''
      progress(
        `wrote ${paths.join(', ')} (${size}, seed ${seed}${batch > 1 ? `…${seed + BigInt(batch - 1)}` : ''}) in ${Math.round(timings.total)} ms ` +
          `[text ${Math.round(timings.textEncoder)} ms, unet ${Math.round(timings.unet)} ms, vae ${Math.round(timings.vae)} ms, encode ${Math.round(timings.encode)} ms]`,
      )
    } catch (error) {
      if (error instanceof InvalidRequestError) throw new CliError(error.message, 2)
      throw error
    } finally {
      await pipeline.dispose()
    }
  },
}
