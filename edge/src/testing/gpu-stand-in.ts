// Test support (imported by *.test.ts only): the GPU tier cannot run inside workerd, so the worker's
// outbound fetch to it is intercepted. The stand-in checks each call with the GPU service's real
// signature verifier and answers in the service's multipart format.
import { NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyRequest } from '@snoopi/gpu-service/contract/request-signature'
import { vi } from 'vitest'

/** GPU_SERVICE_SECRET and the GPU host of vitest.config.ts. */
export const TEST_GPU_SECRET = 'test-secret-0123456789abcdef0123456789'
export const TEST_GPU_HOST = 'gpu.test'

export interface GpuCalls {
  calls: number
  bodies: Record<string, unknown>[]
}

type Behaviour = (body: Record<string, unknown>, request: Request) => Promise<Response> | Response

/** A model list as the GPU service answers `/internal/models`. */
export const standInModels = {
  object: 'list',
  data: [{ id: 'snoopi-default', object: 'model', created: 1_764_000_000, owned_by: 'snoopi', ready: true, version: 'test-v1', sizes: ['64x64', '128x128'] }],
}

/** One fake PNG per image, bytes derived from the seed and prompt, with the service's `meta` part. */
export function pngAnswer(body: Record<string, unknown>): Response {
  const n = Number(body.n)
  const form = new FormData()
  const images = Array.from({ length: n }, (_, i) => {
    const seed = (BigInt(body.seed as string) + BigInt(i)).toString()
    return { seed, bytes: new TextEncoder().encode(`\x89PNG fake ${String(body.prompt)} ${seed}`) }
  })
  form.append('meta', new Blob([JSON.stringify({ model: body.model, images: images.map((i) => ({ seed: i.seed, content_type: 'image/png', bytes: i.bytes.byteLength })) })]), 'meta.json')
  images.forEach((image, i) => form.append(`image-${i}`, new Blob([image.bytes], { type: 'image/png' }), `${i}.png`))
  return new Response(form)
}

/** Whether a call to the GPU tier carries a valid edge signature (the GPU service's own verifier). */
export async function isSignedByEdge(request: Request): Promise<boolean> {
  const url = new URL(request.url)
  const verdict = await verifyRequest({
    secret: TEST_GPU_SECRET,
    method: request.method,
    path: url.pathname + url.search,
    body: new Uint8Array(await request.clone().arrayBuffer()),
    signature: request.headers.get(SIGNATURE_HEADER),
    timestamp: request.headers.get(TIMESTAMP_HEADER),
    nonce: request.headers.get(NONCE_HEADER),
  })
  return verdict.ok
}

/**
 * Installs the stand-in for the rest of the test (undo with `vi.restoreAllMocks()`): signed POSTs get
 * `behaviour` (default: `pngAnswer`), signed GETs of `/internal/models` get `standInModels`, and an
 * unsigned or badly signed call gets 401 and is not counted.
 */
export function gpuStandIn(behaviour: Behaviour = pngAnswer): GpuCalls {
  const state: GpuCalls = { calls: 0, bodies: [] }
  const realFetch = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    if (url.host !== TEST_GPU_HOST) return realFetch(input, init)
    if (!(await isSignedByEdge(request))) return new Response('bad signature', { status: 401 })
    const text = await request.text()
    state.calls++
    if (request.method === 'GET') return Response.json(standInModels)
    const body = JSON.parse(text) as Record<string, unknown>
    state.bodies.push(body)
    return behaviour(body, request)
  })
  return state
}
