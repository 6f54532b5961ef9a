import OpenAI from 'openai'
import type { ImageGenerateParamsNonStreaming } from 'openai/resources/images'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exited, startStack, type LocalStack } from './start-stack.ts'

/**
 * The whole local stack as `npm start` runs it: wrangler dev (workerd) + the GPU service, on free
 * ports, with a throw-away secrets file and state folder.
 */
let stack: LocalStack
let edgeUrl = ''
let gpuUrl = ''
let devVars: Record<string, string> = {}

beforeAll(async () => {
  stack = await startStack('snoopi-stack-')
  ;({ edgeUrl, gpuUrl, devVars } = stack)
})

afterAll(() => stack?.stop())

describe('local stack (npm start)', () => {
  it('prints the URL and a ready-to-paste curl', () => {
    expect(stack.output).toContain(`public API (edge):  ${edgeUrl}`)
    expect(stack.output).toContain(`curl -s ${edgeUrl}/v1/models`)
    expect(stack.output).toMatch(/\[gpu\] +GPU service listening/)
    expect(stack.output).toMatch(/\[edge\] /)
  })

  it('serves /healthz on the edge', async () => {
    const response = await fetch(`${edgeUrl}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })

  it('answers /v1/models through the edge from the GPU service, ready once the default model loaded', async () => {
    const list = async () => {
      const response = await fetch(`${edgeUrl}/v1/models`)
      expect(response.status).toBe(200)
      return (await response.json()) as { object: string; data: { id: string; owned_by: string; ready: boolean; sizes?: string[] }[] }
    }
    const first = await list()
    expect(first.object).toBe('list')
    expect(first.data).toEqual([expect.objectContaining({ id: 'snoopi-default', owned_by: 'snoopi' })])
    const deadline = Date.now() + 60_000
    while (!(await list()).data[0]?.ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    expect((await list()).data[0]).toEqual(expect.objectContaining({ ready: true, sizes: ['32x32'] }))
    expect(stack.output).toMatch(/GET \/v1\/models 200/)
    expect(stack.output).toMatch(/model snoopi-default ready: SNOOPI shapes 32×32 \(PG-SB one-step student/)
  })

  it('serves an OpenAI client end to end: admin key → generation → image URL → cache hit', async () => {
    const created = await fetch(`${edgeUrl}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${devVars.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ owner: 'e2e', plan: 'pro' }),
    })
    expect(created.status).toBe(201)
    const { key } = (await created.json()) as { key: string }
    const client = new OpenAI({ apiKey: key, baseURL: `${edgeUrl}/v1`, maxRetries: 0 })
    const request = { model: 'snoopi-default', prompt: `a red circle and a blue square ${Date.now()}`, size: '32x32', response_format: 'url' } as unknown as ImageGenerateParamsNonStreaming
    const first = await client.images.generate(request).withResponse()
    expect(first.response.headers.get('x-cache')).toBe('MISS')
    const url = first.data.data?.[0]?.url
    expect(url).toMatch(new RegExp(`^${edgeUrl}/v1/images/[0-9a-f]{32}\\.png$`))
    const image = await fetch(url!)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/png')
    const bytes = new Uint8Array(await image.arrayBuffer())
    expect(Array.from(bytes.slice(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const ihdr = new DataView(bytes.buffer, 16, 8) // the trained default model draws 32×32
    expect([ihdr.getUint32(0), ihdr.getUint32(4)]).toEqual([32, 32])
    const second = await client.images.generate(request).withResponse()
    expect(second.response.headers.get('x-cache')).toBe('HIT')
    expect(second.data.data?.[0]?.url).toBe(url)
    // A negative prompt is a different request: a new image.
    const negative = await client.images.generate({ ...request, negative_prompt: 'blue square' } as unknown as ImageGenerateParamsNonStreaming)
    expect(negative.data?.[0]?.url).not.toBe(url)
  })

  it('keeps the GPU service closed to unsigned callers', async () => {
    expect((await fetch(`${gpuUrl}/healthz`)).status).toBe(200)
    expect((await fetch(`${gpuUrl}/internal/models`)).status).toBe(401)
  })

  it('stops both tiers on SIGINT (Ctrl-C) and frees their ports', async () => {
    stack.child.kill('SIGINT')
    expect(await exited(stack.child)).toBe(0)
    await expect(fetch(`${edgeUrl}/healthz`)).rejects.toThrow()
    await expect(fetch(`${gpuUrl}/healthz`)).rejects.toThrow()
  })
})
