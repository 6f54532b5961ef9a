import { existsSync } from 'node:fs'
import { NoCrossAttentionError } from '../nasa/rewrite.ts'
import { formatReport, rewriteModelFile } from '../nasa/rewrite-file.ts'
import { createSession, disposeSession } from '../runtime/onnx-backend.ts'
import { CliError, parseCliArgs, type Command } from './command.ts'

const usage = `Usage: snoopi nasa-rewrite <in.onnx> <out.onnx> [--mode nasa|nasa-proj|nag] [--context-input NAME] [--norm l1|l2]

Rewrites a UNet (or DiT) so its cross-attention layers take a negative prompt: adds the inputs
negative_encoder_hidden_states and nasa_scale [batch] (NAG: nag_scale, nag_tau, nag_alpha), shares each
layer's query, and combines Z+ − α·Z− (nasa-proj: Z+ − α·max(0, ⟨Z+,Z−⟩/‖Z−‖²)·Z− per token; or
NAG) before the output projection. Self-attention is left
alone. Prints how many layers each rule rewrote, then loads the result in onnxruntime to check it.

Options:
  --mode <m>              nasa (default), nasa-proj (NASA with projection; input nasa_scale) or nag
  --context-input <name>  the input keys/values come from (default encoder_hidden_states)
  --norm <l1|l2>          NAG's per-token norm (default l2)
  --no-check              skip loading the result in onnxruntime`

/** `snoopi nasa-rewrite`: the NASA/NAG graph rewrite as a command. */
export const nasaRewriteCommand: Command = {
  name: 'nasa-rewrite',
  summary: 'add NASA (or NAG) negative-prompt inputs to a UNet ONNX graph',
  usage,
  async run(argv, io) {
    const parsed = parseCliArgs({
      args: argv,
      allowPositionals: true,
      options: {
        mode: { type: 'string', default: 'nasa' },
        'context-input': { type: 'string', default: 'encoder_hidden_states' },
        norm: { type: 'string', default: 'l2' },
        'no-check': { type: 'boolean', default: false },
      },
    })
    const { values, positionals } = parsed
    const [input, output] = positionals
    if (!input || !output || positionals.length > 2) throw new CliError('expected <in.onnx> and <out.onnx>', 2)
    if (values.mode !== 'nasa' && values.mode !== 'nasa-proj' && values.mode !== 'nag') throw new CliError('--mode must be nasa, nasa-proj or nag', 2)
    if (values.norm !== 'l1' && values.norm !== 'l2') throw new CliError('--norm must be l1 or l2', 2)
    if (!existsSync(input)) throw new CliError(`${input}: no such file`)
    let report
    try {
      report = rewriteModelFile(input, output, { mode: values.mode, contextInput: values['context-input'], norm: values.norm })
    } catch (error) {
      if (error instanceof NoCrossAttentionError) throw new CliError(error.message, 1)
      throw error
    }
    io.stdout.write(`${formatReport(report)}\nwrote ${output}\n`)
    if (!values['no-check']) {
      const loaded = await createSession(output, { log: () => {} })
      const added = loaded.inputs.filter((i) => !['sample', 'timestep', values['context-input']].includes(i.name))
      io.stdout.write(`onnxruntime loads it; new inputs: ${added.map((i) => `${i.name} ${i.type}[${i.shape.join(', ')}]`).join(', ')}\n`)
      await disposeSession(loaded)
    }
  },
}
