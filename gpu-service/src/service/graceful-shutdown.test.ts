import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { testBundle } from '../testing/bundles.ts'
import { readImages, signedFetch } from '../testing/signed-fetch.ts'

const main = fileURLToPath(new URL('../main.ts', import.meta.url))
const secret = 's'.repeat(64)

describe('the GPU service process', () => {
  it('drains in-flight work on SIGTERM, closes both listeners, and exits 0', async () => {
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, GPU_SERVICE_SECRET: secret, PORT: '0', MODEL_DIR: testBundle('tiny'), ORT_THREADS: '1', SHUTDOWN_TIMEOUT_S: '30' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const deadline = Date.now() + 30_000
      while (!/ready: /.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50))
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
      const metricsUrl = /metrics on (http:\/\/\S+)/.exec(output)?.[1]
      expect(url, output).toBeDefined()
      expect(metricsUrl, output).toMatch(/\/metrics$/)

      // A slow request (4 images at 128×128), then SIGTERM while it runs.
      const inFlight = signedFetch(url!, '/internal/generate', { secret, body: { prompt: 'drain me', seed: '3', n: 4, size: '128x128' } })
      // SIGTERM once the request is queued or running (a request arriving after SIGTERM gets a 503).
      while (!/^snoopi_in_flight_requests 1$/m.test(await (await fetch(metricsUrl!)).text())) await new Promise((r) => setTimeout(r, 2))
      child.kill('SIGTERM')
      const response = await inFlight
      expect(response.status).toBe(200)
      expect((await readImages(response)).images).toHaveLength(4)
      expect(await exited).toBe(0)
      expect(output).toMatch(/SIGTERM received: draining/)
      expect(output).toMatch(/stopped/)
      await expect(fetch(`${url}/healthz`)).rejects.toThrow()
      await expect(fetch(metricsUrl!)).rejects.toThrow()
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 60_000)
})
