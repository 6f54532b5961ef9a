import { randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'

/**
 * `.dev.vars`: the local secrets file that `wrangler dev` reads, shared here with the GPU service so
 * both tiers use the same HMAC secret. Created with safe local defaults when missing; never committed.
 */
/** The local secrets every tier needs; missing ones are generated (32 random bytes, hex). */
export const LOCAL_SECRETS = ['GPU_SERVICE_SECRET', 'ADMIN_TOKEN', 'CACHE_KEY_SECRET'] as const

export function ensureDevVars(path: string): { vars: Record<string, string>; created: boolean; added: string[] } {
  const created = !existsSync(path)
  if (created) writeFileSync(path, '# Local secrets for `npm start` (wrangler dev and the GPU service). Generated; not committed.\n', { mode: 0o600 })
  const existing = parseDotenv(readFileSync(path, 'utf8'))
  const added = LOCAL_SECRETS.filter((name) => !existing[name])
  if (added.length > 0) appendFileSync(path, added.map((name) => `${name}=${randomBytes(32).toString('hex')}\n`).join(''))
  return { vars: parseDotenv(readFileSync(path, 'utf8')), created, added }
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
