import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

const colours = { cyan: 36, magenta: 35, yellow: 33 } as const
export type Colour = keyof typeof colours

/** A `[name]` prefix, coloured when the terminal supports it. Labels are padded to line up. */
export function prefix(name: string, colour: Colour, width: number, useColour: boolean): string {
  const label = `[${name}]`.padEnd(width + 2)
  return useColour ? `\u001b[${colours[colour]}m${label}\u001b[0m ` : `${label} `
}

/** Copies a child's output line by line to `out`, each line behind `label`. */
export function pipeWithPrefix(stream: Readable, out: Writable, label: string): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    out.write(`${label}${line}\n`)
  })
}
