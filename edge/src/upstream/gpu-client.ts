import { signRequest } from '@snoopi/gpu-service/request-signature'
import type { EdgeConfig } from '../config/edge-config.ts'
import { ApiError } from '../errors/api-error.ts'

export interface GpuCall {
  method: 'GET' | 'POST'
  /** Path on the GPU service, e.g. `/internal/models`. */
  path: string
  body?: string
  requestId: string
}

/**
 * Calls the GPU service with a signed request and a timeout. Failures become ApiErrors with a client
 * message and the internal detail kept apart: connection failure → 503, timeout → 504, any other
 * non-2xx → 502. (Retries with jitter and the circuit breaker come with the generation route.)
 */
export async function callGpuService(config: EdgeConfig, call: GpuCall): Promise<Response> {
  const signature = await signRequest({ secret: config.GPU_SERVICE_SECRET, method: call.method, path: call.path, body: call.body })
  let response: Response
  try {
    response = await fetch(config.GPU_SERVICE_URL + call.path, {
      method: call.method,
      body: call.body,
      headers: { ...signature, 'x-request-id': call.requestId, ...(call.body ? { 'content-type': 'application/json' } : {}) },
      signal: AbortSignal.timeout(config.GPU_TIMEOUT_MS),
    })
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    throw timedOut
      ? new ApiError(504, {
          code: 'upstream_timeout',
          message: 'the image service did not answer in time',
          internal: `${call.method} ${call.path} timed out after ${config.GPU_TIMEOUT_MS} ms`,
        })
      : new ApiError(503, {
          code: 'upstream_unavailable',
          message: 'the image service is unavailable, try again shortly',
          internal: `${call.method} ${call.path}: ${String(error)}`,
          headers: { 'retry-after': '5' },
        })
  }
  if (!response.ok) {
    const detail = await response.text().catch(() => '')
    throw new ApiError(502, {
      code: 'upstream_error',
      message: 'the image service failed to answer this request',
      internal: `${call.method} ${call.path} → ${response.status}: ${detail.slice(0, 500)}`,
    })
  }
  return response
}
