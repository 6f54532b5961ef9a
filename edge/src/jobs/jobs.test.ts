// Generation jobs through the whole worker, with the real queue (miniflare's) and Durable Objects;
// the GPU tier is the shared stand-in.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { gpuStandIn } from '../testing/gpu-stand-in.ts'
import { createKey, getJob, submitJob, waitForJob, type TestJob } from '../testing/jobs.ts'
import { IMAGES } from '../testing/buckets.ts'
import { gpuBreaker } from '../upstream/gpu-client.ts'

afterEach(() => {
  vi.restoreAllMocks()
  gpuBreaker.succeeded()
})

const unique = () => `a blue square ${crypto.randomUUID()}`

describe('POST /v1/jobs', () => {
  it('queues a job that runs and succeeds, with its images in R2', async () => {
    const upstream = gpuStandIn()
    const key = await createKey()
    const response = await submitJob(key, { prompt: unique(), n: 2, size: '64x64' })
    expect(response.status).toBe(202)
    const job = await response.json<TestJob>()
    expect(job).toMatchObject({ object: 'image.job', status: 'queued', model: 'snoopi-default', urls: { self: `https://api.test/v1/jobs/${job.id}` } })
    const done = await waitForJob(key, job.id)
    expect(done.status).toBe('succeeded')
    expect(done.data).toHaveLength(2)
    expect(upstream.calls).toBe(1)
    const id = /\/v1\/images\/([0-9a-f]{32})\.png$/.exec(done.data![0]!.url!)![1]
    expect(await IMAGES.head(`images/${id}.png`)).not.toBeNull()
    expect((await getJob(key, job.id)).status).toBe('succeeded')
  })
})
