import type { ImagineRequest } from './imagine-command.ts'

/** A finished image as every platform shows it: the PNG's public URL, what was asked, and its buttons' job. */
export interface ImageAnswer {
  job: string
  imageUrl: string
  request: ImagineRequest
  /** The image's seed (decimal). */
  seed: string
  /** The platform user who asked (mentioned where the platform allows). */
  userId: string
}

/** Cuts `text` to `max` characters (a trailing ellipsis when cut). */
export function clip(text: string, max: number): string {
  const chars = [...text]
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`
}

/** Cuts `text` to at most `max` UTF-8 bytes, on a character boundary (a trailing ellipsis when cut). */
export function clipBytes(text: string, max: number): string {
  const encoder = new TextEncoder()
  if (encoder.encode(text).length <= max) return text
  let out = ''
  for (const char of text) {
    if (encoder.encode(`${out}${char}…`).length > max) break
    out += char
  }
  return `${out}…`
}

/** The words under an image, the same on every platform. */
export function imageCaption(answer: ImageAnswer): string {
  let text = answer.request.prompt
  if (answer.request.negative_prompt) text += `\nwithout: ${answer.request.negative_prompt}`
  return `${text}\nseed ${answer.seed}`
}

/** "Try again in 40 s" / "in 3 min": a retry time people read. */
export function retryIn(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} s`
  if (seconds < 5400) return `${Math.ceil(seconds / 60)} min`
  return `${Math.ceil(seconds / 3600)} h`
}
