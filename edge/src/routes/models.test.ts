import { exports } from 'cloudflare:workers'
import OpenAI, { NotFoundError } from 'openai'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LOADING_MODEL_LIST_TTL_SECONDS, MODEL_LIST_TTL_SECONDS, ModelCatalog, modelCatalog } from '../models/model-catalog.ts'
import { edgeConfig } from '../config/edge-config.ts'
import { bindings } from '../testing/key-accounts.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

const api = 'https://api.test'
const card = { id: 'snoopi-default', object: 'model', created: 1_764_000_000, owned_by: 'snoopi', ready: true, version: 'test-v1', sizes: ['64x64'] }
const list = (ready = true) => ({ object: 'list', data: [{ ...card, ready }] })

/** Counts the worker's calls to the GPU host and answers them with `answer` (signatures are the upstream tests' concern). */
function gpuModels(answer: () => Response | Promise<Response> = () => Response.json(list())): { calls: number } {
  const state = { calls: 0 }
  const realFetch = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init)
    if (new URL(request.url).host !== 'gpu.test') return realFetch(input, init)
    state.calls++
    return answer()
  })
  return state
}

beforeEach(() => modelCatalog.forget())
afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
  modelCatalog.forget()
})

describe('GET /v1/models', () => {
  it('makes one GPU call for many requests, concurrent or not, and says how long the answer may be kept', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const upstream = gpuModels(async () => {
      await gate
      return Response.json(list())
    })
    const concurrent = Array.from({ length: 5 }, () => exports.default.fetch(`${api}/v1/models`))
    await new Promise((resolve) => setTimeout(resolve, 20))
    release()
    const answers = [...(await Promise.all(concurrent))]
    for (let i = 0; i < 5; i++) answers.push(await exports.default.fetch(`${api}/v1/models`))
    answers.push(await exports.default.fetch(`${api}/v1/models/snoopi-default`))
    for (const answer of answers) {
      expect(answer.status).toBe(200)
      const maxAge = Number(/^public, max-age=(\d+)$/.exec(answer.headers.get('cache-control') ?? '')?.[1])
      expect(maxAge).toBeGreaterThan(0)
      expect(maxAge).toBeLessThanOrEqual(MODEL_LIST_TTL_SECONDS)
    }
    expect(await answers[0]!.json()).toEqual(list())
    expect(upstream.calls).toBe(1)
  })

  it('keeps no failure: the next request asks the GPU tier again, and errors carry no Cache-Control', async () => {
    let failing = true
    const upstream = gpuModels(() => (failing ? new Response('boom', { status: 500 }) : Response.json(list())))
    const failed = await exports.default.fetch(`${api}/v1/models`)
    expect(failed.status).toBe(502)
    expect(failed.headers.get('cache-control')).toBeNull()
    failing = false
    expect((await exports.default.fetch(`${api}/v1/models`)).status).toBe(200)
    expect((await exports.default.fetch(`${api}/v1/models`)).status).toBe(200)
    expect(upstream.calls).toBe(2)
  })
})

describe('GET /v1/models/{id}', () => {
  it('answers the model object, or 404 model_not_found in the OpenAI error shape', async () => {
    gpuModels()
    const found = await exports.default.fetch(`${api}/v1/models/snoopi-default`)
    expect(found.status).toBe(200)
    expect(await found.json()).toEqual(card)
    const missing = await exports.default.fetch(`${api}/v1/models/dall-e-3`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('cache-control')).toBeNull()
    expect(await missing.json()).toEqual({ error: { type: 'invalid_request_error', code: 'model_not_found', message: expect.stringContaining('dall-e-3') as string } })
  })

  it('works with the official openai client’s models.retrieve and models.list', async () => {
    gpuModels()
    const client = new OpenAI({ apiKey: 'unused', baseURL: `${api}/v1`, fetch: (url, init) => exports.default.fetch(new Request(url, init)), maxRetries: 0 })
    expect(await client.models.retrieve('snoopi-default')).toMatchObject({ id: 'snoopi-default', object: 'model', owned_by: 'snoopi' })
    await expect(client.models.retrieve('dall-e-3')).rejects.toBeInstanceOf(NotFoundError)
    const ids = []
    for await (const model of client.models.list()) ids.push(model.id)
    expect(ids).toEqual(['snoopi-default'])
  })
})

describe('ModelCatalog', () => {
  it('asks again once the TTL is over, sooner while a model is loading', async () => {
    const config = edgeConfig(bindings)
    if (!config.ok) throw new Error(config.problems.join('; '))
    let ready = false
    const upstream = gpuModels(() => Response.json(list(ready)))
    let now = 1_000_000
    const catalog = new ModelCatalog(() => now)
    expect((await catalog.list(config.config, 't')).maxAgeSeconds).toBe(LOADING_MODEL_LIST_TTL_SECONDS)
    now += LOADING_MODEL_LIST_TTL_SECONDS * 1000 - 1
    await catalog.list(config.config, 't')
    expect(upstream.calls).toBe(1)
    ready = true
    now += 1
    expect(await catalog.list(config.config, 't')).toEqual({ list: list(true), maxAgeSeconds: MODEL_LIST_TTL_SECONDS })
    now += MODEL_LIST_TTL_SECONDS * 1000 - 1500
    expect((await catalog.list(config.config, 't')).maxAgeSeconds).toBe(2)
    expect(upstream.calls).toBe(2)
    now += 1500
    await catalog.list(config.config, 't')
    expect(upstream.calls).toBe(3)
  })
})
