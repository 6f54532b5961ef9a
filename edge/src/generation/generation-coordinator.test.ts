import { runInDurableObject } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { accountStub } from '../accounts/account-stub.ts'
import { bindings, provisionKey } from '../testing/key-accounts.ts'
import { keyHash } from '../keys/api-key.ts'
import { gpuStandIn } from '../testing/gpu-stand-in.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'
import type { GenerationCoordinator, GenerationJob, GenerationOutcome } from './generation-coordinator.ts'

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

const hex = (length: number) => Array.from(crypto.getRandomValues(new Uint8Array(length / 2)), (b) => b.toString(16).padStart(2, '0')).join('')

async function payer(plan: 'test' | 'pro'): Promise<{ account: string; stub: ReturnType<typeof accountStub> }> {
  const stub = accountStub(bindings, await keyHash((await provisionKey(plan)).key))
  return { account: stub.id.toString(), stub }
}

function coordinator(hash: string): DurableObjectStub<GenerationCoordinator> {
  const namespace = bindings.GENERATIONS as DurableObjectNamespace<GenerationCoordinator>
  return namespace.get(namespace.idFromName(hash))
}

function job(hash: string, account: string, n = 2): GenerationJob {
  return {
    hash,
    upstream: { prompt: `coordinator ${hash}`, n, seed: '7', size: '64x64', output_format: 'png', model: 'snoopi-default', model_version: 'test-v1', timeout_ms: 1000 },
    model: 'snoopi-default',
    version: 'test-v1',
    imageIds: Array.from({ length: n }, () => hex(32)),
    ext: 'png',
    force: false,
    requestId: `coordinator-test-${hash.slice(0, 8)}`,
    payer: { account },
  }
}

describe('GenerationCoordinator', () => {
  it('charges the leader only; a follower is not charged and does not see the leader’s quota', async () => {
    const upstream = gpuStandIn()
    const hash = hex(64)
    const [leader, follower] = [await payer('pro'), await payer('pro')]
    const stub = coordinator(hash)
    const [first, second] = await runInDurableObject(stub, (instance: GenerationCoordinator) => Promise.all([instance.generate(job(hash, leader.account)), instance.generate(job(hash, follower.account))]))
    expect(first).toMatchObject({ ok: true, generated: true, coalesced: false, images: { policy: 'images', remaining: 4998 } })
    expect(second).toMatchObject({ ok: true, generated: false, coalesced: true })
    expect((second as Extract<GenerationOutcome, { ok: true }>).images).toBeUndefined()
    expect([(await leader.stub.usage())?.remaining.images, (await follower.stub.usage())?.remaining.images]).toEqual([4998, 5000])
    expect(upstream.calls).toBe(1)

    // Once stored, a later job finds the manifest: free, like a hit.
    const later = await payer('pro')
    expect(await runInDurableObject(stub, (instance: GenerationCoordinator) => instance.generate(job(hash, later.account)))).toMatchObject({ ok: true, generated: false, coalesced: false })
    expect((await later.stub.usage())?.remaining.images).toBe(5000)
  })

  it('lets a follower lead when the leader’s key cannot pay: the leader alone gets the refusal', async () => {
    const upstream = gpuStandIn()
    const hash = hex(64)
    const broke = await payer('test') // 5 images a day
    await broke.stub.consumeImages(5)
    const paying = await payer('pro')
    const stub = coordinator(hash)
    const [refused, served] = await runInDurableObject(stub, (instance: GenerationCoordinator) => Promise.all([instance.generate(job(hash, broke.account)), instance.generate(job(hash, paying.account))]))
    expect(refused).toMatchObject({ ok: false, status: 429, code: 'image_quota_exceeded', chargeRefused: true, images: { allowed: false, refusedBy: 'images' } })
    expect(served).toMatchObject({ ok: true, generated: true, coalesced: false, images: { remaining: 4998 } })
    expect(upstream.calls).toBe(1)
  })

  it('refunds the leader when the generation fails, and passes the failure to followers uncharged', async () => {
    gpuStandIn(() => new Response('boom', { status: 500 }))
    const hash = hex(64)
    const [leader, follower] = [await payer('pro'), await payer('pro')]
    const stub = coordinator(hash)
    const [first, second] = await runInDurableObject(stub, (instance: GenerationCoordinator) => Promise.all([instance.generate(job(hash, leader.account)), instance.generate(job(hash, follower.account))]))
    expect(first).toMatchObject({ ok: false, status: 502, code: 'upstream_error', images: { remaining: 5000 } })
    expect(second).toMatchObject({ ok: false, status: 502, code: 'upstream_error' })
    expect((second as Extract<GenerationOutcome, { ok: false }>).images).toBeUndefined()
    expect([(await leader.stub.usage())?.remaining.images, (await follower.stub.usage())?.remaining.images]).toEqual([5000, 5000])
  })
})
