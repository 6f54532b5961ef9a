import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/**
 * `.dev.vars`: the local secrets file that `wrangler dev` reads, shared here with the GPU service so
 * both tiers use the same HMAC secret. Created with safe local defaults when missing; never committed.
 */
export function ensureDevVars(path: string): { vars: Record<string, string>; created: boolean } {
  let created = false
  if (!existsSync(path)) {
    const secret = randomBytes(32).toString('hex')
    writeFileSync(
      path,
      [
        '# Local secrets for `npm start` (wrangler dev and the GPU service). Generated; not committed.',
        `GPU_SERVICE_SECRET=${secret}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    )
    created = true
  }
  return { vars: parseDotenv(readFileSync(path, 'utf8')), created }
}

/** The dotenv subset wrangler accepts: `KEY=value`, optional quotes, `#` comments, blank lines. */
export function parseDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {}
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!match) continue
    const [, key, rawValue = ''] = match
    const quoted = /^(['"])(.*)\1$/.exec(rawValue)
    vars[key as string] = quoted ? (quoted[2] ?? '') : rawValue.replace(/\s+#.*$/, '')
  }
  return vars
}
