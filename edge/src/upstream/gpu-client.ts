import { signRequest } from '@snoopi/gpu-service/contract/request-signature'
import type { EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'
import { CircuitBreaker } from './circuit-breaker.ts'

export interface GpuCall {
  method: 'GET' | 'POST'
  /** Path on the GPU service, e.g. `/internal/models`. */
  path: string
  body?: string
  requestId: string
}

export interface RetryPolicy {
  /** Retries after the first attempt, for 503s and connection errors (default 2). */
  retries: number
  /** Base of the exponential backoff with full jitter, ms (default 200). */
  baseDelayMs: number
  /** Longest wait a Retry-After from the GPU tier may impose before giving up, ms (default 2000). */
  maxRetryAfterMs: number
}

const defaultPolicy: RetryPolicy = { retries: 2, baseDelayMs: 200, maxRetryAfterMs: 2000 }

/** One breaker per isolate for the GPU tier. */
export const gpuBreaker = new CircuitBreaker()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const unavailable = (internal: string, retryAfterSeconds = 5) =>
  new ApiError(503, {
    code: 'upstream_unavailable',
    message: 'the image service is unavailable, try again shortly',
    internal,
    headers: { 'retry-after': String(retryAfterSeconds) },
  })

/**
 * Calls the GPU service, signed, under one overall deadline (GPU_TIMEOUT_MS). A 503 or a connection
 * error is retried with exponential backoff and full jitter within a small budget (each attempt is
 * signed afresh, with a new nonce: the GPU tier refuses a nonce it has seen); the circuit breaker
 * fails calls fast while the tier is down.
 * Failures become ApiErrors with the internal detail kept apart: unavailable → 503 + Retry-After,
 * deadline → 504, any other non-2xx → 502.
 */
export async function callGpuService(config: EdgeConfig, call: GpuCall, policy: Partial<RetryPolicy> = {}, breaker = gpuBreaker): Promise<Response> {
  const { retries, baseDelayMs, maxRetryAfterMs } = { ...defaultPolicy, ...policy }
  const deadline = Date.now() + config.GPU_TIMEOUT_MS
  const blocked = breaker.blockedForMs()
  if (blocked > 0) throw unavailable(`circuit open for ${blocked} ms more`, Math.ceil(blocked / 1000))

  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw timeoutError(call, config)
    const signature = await signRequest({ secret: config.GPU_SERVICE_SECRET, method: call.method, path: call.path, body: call.body })
    let response: Response | undefined
    let failure = `${call.method} ${call.path}`
    try {
      response = await fetch(config.GPU_SERVICE_URL + call.path, {
        method: call.method,
        body: call.body,
        headers: { ...signature, 'x-request-id': call.requestId, ...(call.body ? { 'content-type': 'application/json' } : {}) },
        signal: AbortSignal.timeout(remaining),
      })
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        breaker.failed()
        throw timeoutError(call, config)
      }
      breaker.failed()
      failure += `: ${String(error)}`
    }
    if (response) {
      if (response.ok) {
        breaker.succeeded()
        return response
      }
      if (response.status !== 503) {
        const detail = await response.text().catch(() => '')
        if (response.status >= 500) breaker.failed()
        throw new ApiError(502, {
          code: 'upstream_error',
          message: 'the image service failed to answer this request',
          internal: `${call.method} ${call.path} → ${response.status}: ${detail.slice(0, 500)}`,
        })
      }
      failure += ` → 503 (retry-after ${response.headers.get('retry-after') ?? '-'})`
    }

    // A 503 (queue full) or a connection error: retry within the budget, or give up with 503.
    const retryAfterMs = Number(response?.headers.get('retry-after') ?? 0) * 1000
    if (attempt >= retries || retryAfterMs > maxRetryAfterMs) {
      throw unavailable(`${failure} after ${attempt + 1} attempts`, Math.max(1, Math.ceil(retryAfterMs / 1000) || 5))
    }
    const backoff = Math.max(retryAfterMs, Math.random() * baseDelayMs * 2 ** attempt)
    if (Date.now() + backoff >= deadline) throw unavailable(`${failure}; no time left to retry`)
    await sleep(backoff)
  }
}

function timeoutError(call: GpuCall, config: EdgeConfig): ApiError {
  return new ApiError(504, {
    code: 'upstream_timeout',
    message: 'the image service did not answer in time',
    internal: `${call.method} ${call.path} timed out after ${config.GPU_TIMEOUT_MS} ms`,
  })
}
