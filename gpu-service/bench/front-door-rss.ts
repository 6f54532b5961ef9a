/**
 * `node gpu-service/bench/front-door-rss.ts [--mode unsigned|forged] [--clients 4] [--mib 64]`:
 * what unauthenticated uploads cost the GPU service. Starts the real service (src/main.ts, the tiny
 * test bundle, both ports picked free), samples its RSS from /proc, then sends `clients` concurrent
 * POSTs to /internal/generate with a `mib` MiB body each, and reports the RSS before, the peak
 * during (VmHWM) and after, with how much of each body the service took before answering.
 *
 * Modes: `unsigned` sends no signature headers and a Content-Length; `forged` sends well-formed
 * headers (fresh timestamp, random nonce, a random MAC: what anyone can make without the secret)
 * and a chunked body, so only counting bytes as they arrive can stop it. Linux only (/proc).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { NONCE_HEADER, SIGNATURE_HEADER, SIGNATURE_VERSION, TIMESTAMP_HEADER } from '../src/contract/request-signature.ts'
import { testBundle } from '../src/testing/bundles.ts'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'unsigned' },
    clients: { type: 'string', default: '4' },
    mib: { type: 'string', default: '64' },
  },
})
const mode = values.mode
const clients = Number(values.clients)
const bodyBytes = Number(values.mib) * 1024 * 1024
if ((mode !== 'unsigned' && mode !== 'forged') || !Number.isInteger(clients) || clients < 1 || !(bodyBytes > 0)) {
  console.error('usage: node gpu-service/bench/front-door-rss.ts [--mode unsigned|forged] [--clients N] [--mib M]')
  process.exit(2)
}

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
const child = spawn(process.execPath, [main], {
  env: { ...process.env, GPU_SERVICE_SECRET: 'r'.repeat(64), HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', MODEL_DIR: testBundle('tiny'), ORT_THREADS: '1' },
  stdio: ['ignore', 'pipe', 'pipe'],
})
let output = ''
child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** VmRSS and VmHWM (peak) of the service, MiB. */
function memory(): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
}

/** One upload: writes the body in 1 MiB chunks until the service answers (or takes it all). */
function upload(url: URL): Promise<{ status: number | string; sentMiB: number; ms: number }> {
  const started = performance.now()
  const chunk = Buffer.alloc(1024 * 1024, 0x61)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (mode === 'unsigned') headers['content-length'] = String(bodyBytes)
  else {
    headers[TIMESTAMP_HEADER] = String(Math.floor(Date.now() / 1000))
    headers[NONCE_HEADER] = randomBytes(16).toString('hex')
    headers[SIGNATURE_HEADER] = `${SIGNATURE_VERSION}=${randomBytes(32).toString('hex')}`
  }
  return new Promise((resolve) => {
    let sent = 0
    let answered: number | string | undefined
    const done = (status: number | string) => {
      answered ??= status
      resolve({ status: answered, sentMiB: sent / 1024 / 1024, ms: Math.round(performance.now() - started) })
    }
    const req = request(new URL('/internal/generate', url), { method: 'POST', headers, agent: false }, (response) => {
      answered = response.statusCode ?? 0
      response.resume()
      response.on('end', () => {
        req.destroy()
        done(answered!)
      })
    })
    req.on('error', (error: NodeJS.ErrnoException) => done(answered ?? error.code ?? String(error)))
    const pump = () => {
      while (answered === undefined && sent < bodyBytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent))
        sent += part.length
        if (!req.write(part)) return void req.once('drain', pump)
      }
      if (answered === undefined) req.end()
    }
    pump()
  })
}

try {
  const deadline = Date.now() + 60_000
  while (!/ready: /.test(output) && Date.now() < deadline && child.exitCode === null) await sleep(50)
  const base = /listening on (http:\/\/\S+)/.exec(output)?.[1]
  if (!base || !/ready: /.test(output)) throw new Error(`the service did not become ready:\n${output}`)
  await sleep(1000)
  const before = memory()
  let peakSampled = before.rss
  const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, memory().rss)), 20)
  const results = await Promise.all(Array.from({ length: clients }, () => upload(new URL(base))))
  clearInterval(sampler)
  await sleep(2000)
  const after = memory()
  const commit = spawn('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const head = await new Promise<string>((resolve) => {
    let text = ''
    commit.stdout.on('data', (d: Buffer) => (text += d.toString()))
    commit.on('close', () => resolve(text.trim()))
  })
  console.log(`front door under ${clients} concurrent ${mode} ${values.mib} MiB POSTs to /internal/generate (HEAD ${head}, node ${process.version})`)
  for (const [i, r] of results.entries()) console.log(`  client ${i}: answer ${r.status} after ${r.ms} ms, ${r.sentMiB.toFixed(1)} MiB written by the client`)
  console.log(`  RSS before ${before.rss.toFixed(0)} MiB, peak sampled during ${peakSampled.toFixed(0)} MiB (VmHWM since start ${after.peak.toFixed(0)}), after ${after.rss.toFixed(0)} MiB`)
} finally {
  child.kill('SIGKILL')
}
