import { fileURLToPath } from 'node:url'
import { ensureGeneratedBundle } from '../src/bundle/load/default-bundle.ts'

/**
 * The bundle a benchmark runs on: `dir` when given, else the generated `bench` preset, made once into
 * `<repo>/.cache/bundles/bench-v1` (progress on stderr, so the tables on stdout stay clean).
 */
export function benchBundle(dir: string | undefined): string {
  const cacheDir = fileURLToPath(new URL('../../.cache/bundles', import.meta.url))
  return dir ?? ensureGeneratedBundle(cacheDir, 'bench-v1', 'bench', (line) => console.error(line))
}
