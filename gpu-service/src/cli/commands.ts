import type { Command } from './command.ts'

/** Every CLI command, in the order `snoopi --help` lists them. Adding a command is a new row. */
export const commands: Command[] = []
