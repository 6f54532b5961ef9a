import { NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyRequest } from '@snoopi/gpu-service/contract/request-signature'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { EdgeConfig } from '../config/edge-config.ts'
import type { ApiError } from '../errors/api-error.ts'
import { CircuitBreaker } from './circuit-breaker.ts'
import { callGpuService } from './gpu-client.ts'

const config = { GPU_SERVICE_URL: 'http://gpu.test', GPU_SERVICE_SECRET: 's'.repeat(40), GPU_TIMEOUT_MS: 2000 } as EdgeConfig
const call = { method: 'POST' as const, path: '/internal/generate', body: '{}', requestId: 'r' }

function upstream(...answers: (() => Response)[]) {
  let calls = 0
  vi.spyOn(globalThis, 'fetch').mockImplementation(() => {
    const answer = answers[Math.min(calls++, answers.length - 1)] as () => Response
    return Promise.resolve(answer())
  })
  return () => calls
}

const refused = () => {
  throw new TypeError('connect ECONNREFUSED')
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('callGpuService', () => {
  it('retries a 503 and returns the next success', async () => {
    const calls = upstream(() => new Response('busy', { status: 503, headers: { 'retry-after': '0' } }), () => new Response('ok'))
    const response = await callGpuService(config, call, { baseDelayMs: 1 }, new CircuitBreaker())
    expect(await response.text()).toBe('ok')
    expect(calls()).toBe(2)
  })

  it('gives up after its retry budget with 503 + Retry-After', async () => {
    const calls = upstream(refused)
    const error = (await callGpuService(config, call, { retries: 2, baseDelayMs: 1 }, new CircuitBreaker()).catch((e: unknown) => e)) as ApiError
    expect(error.status).toBe(503)
    expect(error.headers['retry-after']).toBe('5')
    expect(calls()).toBe(3)
  })

  it('does not retry when the Retry-After asks for longer than the budget allows', async () => {
    const calls = upstream(() => new Response('busy', { status: 503, headers: { 'retry-after': '30' } }))
    const error = (await callGpuService(config, call, { baseDelayMs: 1 }, new CircuitBreaker()).catch((e: unknown) => e)) as ApiError
    expect([error.status, error.headers['retry-after'], calls()]).toEqual([503, '30', 1])
  })

  it('does not retry other errors: 500 → 502', async () => {
    const calls = upstream(() => new Response('boom', { status: 500 }))
    const error = (await callGpuService(config, call, {}, new CircuitBreaker()).catch((e: unknown) => e)) as ApiError
    expect([error.status, calls()]).toEqual([502, 1])
  })

  it('fails fast without calling upstream while the circuit is open', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 60_000 })
    const calls = upstream(refused)
    await callGpuService(config, call, { retries: 1, baseDelayMs: 1 }, breaker).catch(() => undefined)
    expect(breaker.state).toBe('open')
    const before = calls()
    const started = Date.now()
    const error = (await callGpuService(config, call, {}, breaker).catch((e: unknown) => e)) as ApiError
    expect(error.status).toBe(503)
    expect(Number(error.headers['retry-after'])).toBeGreaterThan(50)
    expect(calls()).toBe(before)
    expect(Date.now() - started).toBeLessThan(50)
  })

  it('turns an upstream that never answers into 504 at the deadline', async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation((_input, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error))))
    const started = Date.now()
    const error = (await callGpuService({ ...config, GPU_TIMEOUT_MS: 150 }, call, {}, new CircuitBreaker()).catch((e: unknown) => e)) as ApiError
    expect(error.status).toBe(504)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('signs every attempt afresh: the GPU verifier accepts each, and no two share a nonce', async () => {
    const attempts: Request[] = []
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      attempts.push(new Request(input, init))
      return Promise.resolve(attempts.length < 3 ? new Response('busy', { status: 503, headers: { 'retry-after': '0' } }) : new Response('ok'))
    })
    await callGpuService(config, call, { baseDelayMs: 1 }, new CircuitBreaker())
    expect(attempts).toHaveLength(3)
    for (const request of attempts) {
      const verdict = await verifyRequest({
        secret: config.GPU_SERVICE_SECRET,
        method: request.method,
        path: new URL(request.url).pathname,
        body: await request.text(),
        signature: request.headers.get(SIGNATURE_HEADER),
        timestamp: request.headers.get(TIMESTAMP_HEADER),
        nonce: request.headers.get(NONCE_HEADER),
      })
      expect(verdict.ok).toBe(true)
    }
    expect(new Set(attempts.map((request) => request.headers.get(NONCE_HEADER))).size).toBe(3)
  })
})
