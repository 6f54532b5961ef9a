import { statSync } from 'node:fs'
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts'
import { CliError, parseCliArgs, readAll, type CliIo, type Command } from './command.ts'

const usage = `Usage: snoopi tokenize --merges <bpe_simple_vocab_16e6.txt.gz | tokenizer-dir>

Tokenises prompts exactly as OpenAI CLIP's tokenizer (the one Stable Diffusion's text encoder reads).
Reads a JSON array of strings on stdin; prints one line: a JSON array with each prompt's raw BPE ids
(no start, end or padding tokens).

Options:
  --merges <path>  CLIP's merge list (bpe_simple_vocab_16e6.txt.gz), or a model bundle's Hugging Face
                   tokenizer folder (vocab.json, merges.txt, tokenizer_config.json)
  -h, --help       Show this help

Example:
  echo '["a photo of a cat"]' | snoopi tokenize --merges bpe_simple_vocab_16e6.txt.gz
  [[320,1125,539,320,2368]]`

/** `snoopi tokenize`: the tokenizer from the shell, to compare ids with other implementations. */
export const tokenizeCommand: Command = {
  name: 'tokenize',
  summary: 'Print the CLIP BPE token ids of prompts (JSON array on stdin)',
  usage,
  async run(argv: string[], io: CliIo): Promise<void> {
    const merges = parseOptions(argv)
    const prompts = parsePrompts(await readAll(io.stdin))
    const tokenizer = loadTokenizer(merges)
    io.stdout.write(`${JSON.stringify(prompts.map((prompt) => tokenizer.encode(prompt)))}\n`)
  },
}

function parseOptions(argv: string[]): string {
  const { values } = parseCliArgs({ args: argv, options: { merges: { type: 'string' } }, strict: true })
  if (values.merges === undefined || values.merges === '') throw new CliError('--merges <path> is required', 2)
  return values.merges
}

function parsePrompts(input: string): string[] {
  let prompts: unknown
  try {
    prompts = JSON.parse(input)
  } catch (error) {
    throw new CliError(`stdin is not JSON (${(error as Error).message}); expected an array of strings`, 2)
  }
  if (!Array.isArray(prompts) || !prompts.every((p) => typeof p === 'string')) {
    throw new CliError('stdin must be a JSON array of strings, e.g. ["a photo of a cat"]', 2)
  }
  return prompts
}

/** A folder is a Hugging Face tokenizer folder; anything else is read as the gzipped merge list. */
function loadTokenizer(path: string): ClipTokenizer {
  let isDirectory: boolean
  try {
    isDirectory = statSync(path).isDirectory()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new CliError(code === 'ENOENT' ? `no such file or directory: ${path}` : `cannot read ${path} (${code})`, 1)
  }
  try {
    return isDirectory ? ClipTokenizer.fromDirectory(path) : ClipTokenizer.fromMergesGz(path)
  } catch (error) {
    throw new CliError((error as Error).message, 1)
  }
}
