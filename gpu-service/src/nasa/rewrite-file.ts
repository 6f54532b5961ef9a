import { copyFileSync, existsSync, linkSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { decodeModel, encodeModel } from '../onnx/onnx-proto.ts'
import { rewriteForNegativeGuidance, type RewriteOptions, type RewriteReport } from './rewrite.ts'

/** The external data files a model refers to (locations relative to the model's folder). */
function externalDataFiles(model: ReturnType<typeof decodeModel>): string[] {
  const files = new Set<string>()
  for (const tensor of model.graph?.initializer ?? []) {
    const location = (tensor.externalData ?? []).find((e) => e.key === 'location')?.value
    if (location) files.add(location)
  }
  return [...files]
}

/**
 * Rewrites `input` to `output` (an .onnx file each). Weights in external data stay where they are:
 * the rewritten graph refers to the same data file, which is hard-linked (or copied) next to
 * `output` when it is written to another folder, because onnxruntime resolves external data relative
 * to the model file and refuses paths that leave its folder.
 */
export function rewriteModelFile(input: string, output: string, options: RewriteOptions = {}): RewriteReport {
  const model = decodeModel(readFileSync(input))
  const report = rewriteForNegativeGuidance(model, options)
  const [from, to] = [dirname(resolve(input)), dirname(resolve(output))]
  if (from !== to) {
    for (const file of externalDataFiles(model)) {
      const target = join(to, file)
      if (existsSync(target)) continue
      try {
        linkSync(join(from, file), target)
      } catch {
        copyFileSync(join(from, file), target)
      }
    }
  }
  writeFileSync(output, encodeModel(model))
  return report
}

/** One line per rule, for the CLI and the service log. */
export function formatReport(report: RewriteReport): string {
  const lines = report.rules.map((r) => `  ${r.rule.padEnd(36)} rewrote ${r.rewritten}, left ${r.selfAttention} self-attention alone`)
  return [`${report.mode.toUpperCase()} rewrite: ${report.layers} cross-attention layers, ${report.nodesAdded} nodes added`, ...lines].join('\n')
}
