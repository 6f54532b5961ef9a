import { describe, expect, it } from 'vitest'
import { s3ClientFromEnv } from './s3-client.ts'

describe('s3ClientFromEnv', () => {
  it('defaults to us-east-1 on AWS with virtual-host addressing', async () => {
    const client = s3ClientFromEnv({})
    expect(await client.config.region()).toBe('us-east-1')
    expect(client.config.forcePathStyle).toBe(false)
    client.destroy()
  })

  it('takes the region and an S3-compatible endpoint (path style) from the environment', async () => {
    const client = s3ClientFromEnv({ AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL: 'http://other:1', AWS_ENDPOINT_URL_S3: 'http://minio.local:9000' })
    expect(await client.config.region()).toBe('eu-west-3')
    expect(client.config.forcePathStyle).toBe(true)
    const endpoint = await client.config.endpoint?.()
    expect(`${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}`).toBe('http://minio.local:9000')
    client.destroy()
  })
})
