import type { Command } from './command.ts'
import { generateCommand } from './generate-command.ts'
import { makeBundleCommand } from './make-bundle-command.ts'
import { nasaRewriteCommand } from './nasa-rewrite-command.ts'
import { tokenizeCommand } from './tokenize-command.ts'

/** Every CLI command, in the order `snoopi --help` lists them. Adding a command is a new row. */
export const commands: Command[] = [generateCommand, makeBundleCommand, nasaRewriteCommand, tokenizeCommand]
