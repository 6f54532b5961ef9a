import type { Readable, Writable } from 'node:stream'
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** What a command may touch: its arguments and standard streams (tests pass their own). */
export interface CliIo {
  stdin: Readable
  stdout: Writable
  stderr: Writable
}

/** A CLI error: printed as `snoopi <command>: <message>` without a stack, exit code 2 (usage) or 1. */
export class CliError extends Error {
  override name = 'CliError'
  readonly exitCode: number
  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

export interface Command {
  name: string
  /** One line for `snoopi --help`. */
  summary: string
  /** Full usage text for `snoopi <name> --help`. */
  usage: string
  run(argv: string[], io: CliIo): Promise<void>
}

/** Reads a whole stream as UTF-8 text. */
export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)))
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * `node:util` parseArgs whose complaints (unknown option, missing value) become usage errors (exit 2).
 */
export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (error) {
    throw new CliError((error as Error).message, 2)
  }
}
