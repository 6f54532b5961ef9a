import { attentionForms, type AttentionForm } from '../bundle/build/attention.ts'
import { writeBundle } from '../bundle/build/bundle-writer.ts'
import { presetNames, presets, type PresetName } from '../bundle/build/presets.ts'
import { CliError, parseCliArgs, type Command } from './command.ts'

const usage = `Usage: snoopi make-bundle --preset <${presetNames.join('|')}> --out <dir> [options]

Generates a model bundle with seeded random weights in the layout Optimum's ONNX export writes
(model_index.json, scheduler/, tokenizer/, text_encoder/, unet/, vae_decoder/, snoopi.json).

Presets:
${presetNames.map((name) => `  ${name.padEnd(6)} ${presets[name].description}`).join('\n')}

Options:
  --preset <name>        which architecture (required)
  --out <dir>            where to write the bundle (required)
  --seed <n>             weight seed (default 0)
  --attention <form>     how the UNet's attention is emitted (default decomposed):
                         ${attentionForms.join(', ')}
  --fp16                 store weights and compute in float16 (needs a GPU execution provider)
  --structure-only       write the graphs without weights: each model.onnx names its weights as
                         external data (model.onnx_data, not written) and model.weights.json says how
                         to draw them (gpu-service/bench/device/write_weights.py writes the same bytes)`

/** `snoopi make-bundle`: generate a bundle from a preset. */
export const makeBundleCommand: Command = {
  name: 'make-bundle',
  summary: 'generate a model bundle with random weights (tiny, bench, sd21)',
  usage,
  run(argv, io) {
    const { values } = parseCliArgs({
      args: argv,
      options: {
        preset: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string', default: '0' },
        attention: { type: 'string', default: 'decomposed' },
        fp16: { type: 'boolean', default: false },
        'structure-only': { type: 'boolean', default: false },
      },
    })
    if (!values.preset) throw new CliError('--preset is required', 2)
    if (!(presetNames as string[]).includes(values.preset)) throw new CliError(`unknown preset "${values.preset}" (${presetNames.join(', ')})`, 2)
    if (!values.out) throw new CliError('--out is required', 2)
    if (!(attentionForms as readonly string[]).includes(values.attention)) {
      throw new CliError(`unknown attention form "${values.attention}" (${attentionForms.join(', ')})`, 2)
    }
    const seed = Number(values.seed)
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31) throw new CliError('--seed must be an integer in [0, 2^31]', 2)
    writeBundle({
      preset: presets[values.preset as PresetName],
      out: values.out,
      seed,
      attention: values.attention as AttentionForm,
      weightType: values.fp16 ? 'fp16' : 'fp32',
      weights: values['structure-only'] ? 'manifest' : 'inline',
      onProgress: (line) => io.stderr.write(`${line}\n`),
    })
    return Promise.resolve()
  },
}
