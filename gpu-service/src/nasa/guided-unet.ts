import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { decodeModel, encodeModel } from '../onnx/onnx-proto.ts'
import { createSession, type LoadedSession, type SessionOptions } from '../runtime/onnx-backend.ts'
import { rewriteForNegativeGuidance, type RewriteReport } from './rewrite.ts'
import type { GuidanceMode, NagNorm } from './rewrite-context.ts'
import { formatReport, rewriteModelFile } from './rewrite-file.ts'

export interface GuidedUnetOptions extends SessionOptions {
  mode: GuidanceMode
  norm?: NagNorm
  /** Where to write rewritten graphs of models with external data when the model's folder is read-only. */
  cacheDir?: string
}

const hasExternalData = (bytes: Uint8Array) => (decodeModel(bytes).graph?.initializer ?? []).some((t) => (t.externalData ?? []).length > 0)

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/**
 * A session on the NASA/NAG-rewritten UNet. Small models are rewritten in memory. Models with external
 * data are rewritten to `model.<mode>.onnx` beside the original (sharing its data file) or, if that
 * folder is read-only, into `cacheDir` with the data file linked or copied there.
 */
export async function loadGuidedUnet(unetPath: string, options: GuidedUnetOptions): Promise<{ session: LoadedSession; report: RewriteReport }> {
  const { mode, norm = 'l2', cacheDir, log = console.log } = options
  const bytes = readFileSync(unetPath)
  let source: string | Uint8Array
  let report: RewriteReport
  if (hasExternalData(bytes)) {
    const folder = writable(dirname(unetPath)) || !cacheDir ? dirname(unetPath) : cacheDir
    mkdirSync(folder, { recursive: true })
    source = join(folder, `model.${mode}${mode === 'nag' ? `-${norm}` : ''}.onnx`)
    report = rewriteModelFile(unetPath, source, { mode, norm })
  } else {
    const model = decodeModel(bytes)
    report = rewriteForNegativeGuidance(model, { mode, norm })
    source = encodeModel(model)
  }
  log(formatReport(report))
  return { session: await createSession(source, options), report }
}
