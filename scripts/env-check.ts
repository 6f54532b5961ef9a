/** `npm run -s env-check`: the toolchain the npm scripts use. Exits 1 when Node is older than 22. */
import { createRequire } from 'node:module'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const root = join(import.meta.dirname, '..')
const versionOf = (pkg: string, from: string) => {
  try {
    return (require(require.resolve(`${pkg}/package.json`, { paths: [from] })) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

const major = Number(process.versions.node.split('.')[0])
console.log(`node ${process.versions.node} (${process.execPath})`)
console.log(`wrangler ${versionOf('wrangler', join(root, 'edge'))}`)
console.log(`vitest ${versionOf('vitest', root)}`)
console.log(`typescript ${versionOf('typescript', root)}`)
if (major < 22) {
  console.error(`Node ${process.versions.node} is too old: wrangler 4 needs Node 22. Run this through npm (npm run env-check).`)
  process.exit(1)
}
