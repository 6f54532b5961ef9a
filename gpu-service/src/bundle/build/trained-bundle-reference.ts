import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { toRgb8 } from '../../imaging/to-rgb8.ts'
import { batchOf } from '../../generation/batch.ts'
import { validateGeneration } from '../../generation/generation-request.ts'
import type { OneStepPipeline } from '../../pipeline/one-step-pipeline.ts'

/** One image the training export computed in PyTorch (training/snoopi_train/export.py). */
export interface ReferenceCase {
  prompt: string
  negative_prompt?: string
  alpha?: number
  /** NASA with projection (absent in references made before it: plain NASA). */
  projection?: boolean
  seed: string
  rgb_base64: string
}

export const REFERENCE_FILE = 'reference-images.json'

export function readReferenceCases(bundleDir: string): ReferenceCase[] {
  return JSON.parse(readFileSync(join(bundleDir, REFERENCE_FILE), 'utf8')) as ReferenceCase[]
}

export interface CaseComparison {
  maxDiff: number
  meanDiff: number
}

/** Renders a reference case with the TypeScript pipeline and compares it with PyTorch's pixels. */
export async function compareWithReference(pipeline: OneStepPipeline, reference: ReferenceCase): Promise<CaseComparison> {
  const request = validateGeneration(pipeline.bundle, {
    prompt: reference.prompt,
    seed: BigInt(reference.seed),
    ...(reference.negative_prompt ? { negativePrompt: reference.negative_prompt, guidance: { mode: 'nasa' as const, alpha: reference.alpha, projection: reference.projection ?? false } } : {}),
  })
  const { pixels } = await pipeline.decode(batchOf([request]))
  const { width, height } = request.size
  const ours = toRgb8(pixels, [1, 3, height, width])[0] as Uint8Array
  const theirs = Buffer.from(reference.rgb_base64, 'base64')
  if (theirs.length !== ours.length) throw new Error(`reference has ${theirs.length} bytes, the pipeline made ${ours.length}`)
  let max = 0
  let sum = 0
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs((ours[i] as number) - (theirs[i] as number))
    max = Math.max(max, d)
    sum += d
  }
  return { maxDiff: max, meanDiff: sum / ours.length }
}
