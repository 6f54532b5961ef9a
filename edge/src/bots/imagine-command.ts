import { MAX_PROMPT_CHARS, MAX_SEED } from '@snoopi/gpu-service/contract/limits'

/**
 * What `/imagine` asks for, on every platform: the generation request of a bot job (its `request`,
 * as `GET /v1/jobs` lists it). Seeds are decimal strings when above 2^53 − 1, like the public API's.
 */
export interface ImagineRequest {
  prompt: string
  negative_prompt?: string
  seed?: number | string
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

/** The flags `/imagine` takes after its prompt (Slack and Telegram; Discord has options, and takes these too). */
const FLAGS = { no: 'negative', seed: 'seed' } as const
type Flag = keyof typeof FLAGS

// ` --flag` (also `—flag` / `–flag`: phones and macOS turn "--" into a dash) at the start or after a space.
const FLAG = /(^|\s)(?:--|\u2014|\u2013)([A-Za-z][A-Za-z-]*)(?=\s|$)/g

/** A seed as the request takes it: 0 … 2^64 − 1, a number when it is a safe integer, else a decimal string. */
export function parseSeed(text: string): Parsed<number | string> {
  const trimmed = text.trim()
  if (!/^\d{1,20}$/.test(trimmed) || BigInt(trimmed) > MAX_SEED) return { ok: false, message: `--seed must be a whole number from 0 to ${MAX_SEED}` }
  const value = BigInt(trimmed)
  return { ok: true, value: value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString() }
}

/**
 * `<prompt> [--no <negative>] [--seed N]`: flags follow the prompt in any order, each value running
 * to the next ` --flag` or the end. An unknown flag, a repeated one, an empty value or an empty
 * prompt is a message for the user, never an exception.
 *
 * @example parseImagineText('a red fox --seed 7 --no snow, trees') // {prompt: 'a red fox', negative_prompt: 'snow, trees', seed: 7}
 */
export function parseImagineText(text: string): Parsed<ImagineRequest> {
  const marks = [...text.matchAll(FLAG)].map((m) => ({ name: (m[2] as string).toLowerCase(), start: m.index + (m[1] as string).length, end: m.index + m[0].length }))
  const prompt = text.slice(0, marks[0]?.start ?? text.length).trim()
  const values: Partial<Record<Flag, string>> = {}
  for (const [i, mark] of marks.entries()) {
    if (!Object.hasOwn(FLAGS, mark.name)) return { ok: false, message: `unknown flag --${mark.name} (use --no <what to leave out> and --seed <number>)` }
    const flag = mark.name as Flag
    if (values[flag] !== undefined) return { ok: false, message: `--${flag} is given twice` }
    const value = text.slice(mark.end, marks[i + 1]?.start ?? text.length).trim()
    if (value === '') return { ok: false, message: `--${flag} needs a value` }
    values[flag] = value
  }
  return buildRequest({ prompt, negative: values.no, seed: values.seed })
}

/** A request from its parts (each already split out), with the same checks as the text form. */
export function buildRequest(parts: { prompt: string; negative?: string | undefined; seed?: string | number | undefined }): Parsed<ImagineRequest> {
  const prompt = parts.prompt.trim()
  if (prompt === '') return { ok: false, message: 'say what to draw: /imagine <prompt> [--no <what to leave out>] [--seed <number>]' }
  if (prompt.length > MAX_PROMPT_CHARS) return { ok: false, message: `the prompt is too long (at most ${MAX_PROMPT_CHARS} characters)` }
  const request: ImagineRequest = { prompt }
  const negative = parts.negative?.trim()
  if (negative) {
    if (negative.length > MAX_PROMPT_CHARS) return { ok: false, message: `the negative prompt is too long (at most ${MAX_PROMPT_CHARS} characters)` }
    request.negative_prompt = negative
  }
  if (parts.seed !== undefined) {
    const seed = parseSeed(String(parts.seed))
    if (!seed.ok) return seed
    request.seed = seed.value
  }
  return { ok: true, value: request }
}

/** The request a "Without…" answer makes of `base`: the same prompt and seed, the new negative prompt added. */
export function withoutRequest(base: ImagineRequest, seed: bigint, negative: string): Parsed<ImagineRequest> {
  const added = negative.trim()
  if (added === '') return { ok: false, message: 'say what to leave out' }
  const combined = base.negative_prompt ? `${base.negative_prompt}, ${added}` : added
  return buildRequest({ prompt: base.prompt, negative: combined, seed: seed.toString() })
}

/** The request a "Re-roll" makes of `base`: the same request with the next seed (wrapping to 0 after 2^64 − 1). */
export function rerollRequest(base: ImagineRequest, seed: bigint): ImagineRequest {
  const next = seed >= MAX_SEED ? 0n : seed + 1n
  const parsed = buildRequest({ prompt: base.prompt, negative: base.negative_prompt, seed: next.toString() })
  if (!parsed.ok) throw new Error(`rerollRequest: ${parsed.message}`)
  return parsed.value
}

/** A one-line description of a request for captions and transcripts: `prompt — without: negative · seed N`. */
export function describeRequest(request: ImagineRequest): string {
  let text = request.prompt
  if (request.negative_prompt) text += ` — without: ${request.negative_prompt}`
  if (request.seed !== undefined) text += ` · seed ${request.seed}`
  return text
}
