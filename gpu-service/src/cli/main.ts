import { CliError, type CliIo } from './command.ts'
import { commands } from './commands.ts'

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'Usage: snoopi <command> [options]',
    '',
    'One-step text-to-image with NASA negative prompts: tools around the GPU service.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `snoopi <command> --help` for a command\'s options.',
  ].join('\n')
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo = process): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${overview()}\n`)
    return name === undefined ? 2 : 0
  }
  const command = commands.find((c) => c.name === name)
  if (!command) {
    io.stderr.write(`snoopi: unknown command "${name}"\n\n${overview()}\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage}\n`)
    return 0
  }
  try {
    await command.run(rest, io)
    return 0
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr.write(`snoopi ${name}: ${error.message}\n${error.exitCode === 2 ? `\n${command.usage}\n` : ''}`)
      return error.exitCode
    }
    io.stderr.write(`snoopi ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return 1
  }
}
