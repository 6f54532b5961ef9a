import { describe, expect, it } from 'vitest'
import { ConfigError, loadServiceConfig } from './service-config.ts'

const secret = '0123456789abcdef0123456789abcdef'

describe('loadServiceConfig', () => {
  it('fills defaults', () => {
    const { MODEL_CACHE_DIR, ...rest } = loadServiceConfig({ GPU_SERVICE_SECRET: secret })
    expect(MODEL_CACHE_DIR).toMatch(/\/\.cache\/bundles$/)
    expect(rest).toEqual({
      GPU_SERVICE_SECRET: secret,
      HOST: '127.0.0.1',
      PORT: 8788,
      METRICS_PORT: 8789,
      SIGNATURE_WINDOW_S: 300,
      MODEL_ID: 'snoopi-default',
      DEVICE: 'cpu',
      ORT_THREADS: 0,
      NAG_NORM: 'l2',
      MAX_BATCH_SIZE: 4,
      BATCH_DELAY_MS: 5,
      MAX_QUEUE_IMAGES: 32,
      REQUEST_TIMEOUT_MS: 60_000,
      SHUTDOWN_TIMEOUT_S: 30,
      METRICS_EMF: false,
      ENVIRONMENT: 'local',
    })
  })

  it('coerces numbers from strings', () => {
    expect(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '9000' }).PORT).toBe(9000)
  })

  it('puts /metrics on METRICS_PORT: PORT + 1 by default, 0 with PORT 0, never PORT itself', () => {
    expect(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '9000' }).METRICS_PORT).toBe(9001)
    expect(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0' }).METRICS_PORT).toBe(0)
    expect(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '0', METRICS_PORT: '0' }).METRICS_PORT).toBe(0)
    expect(loadServiceConfig({ GPU_SERVICE_SECRET: secret, METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464)
    expect(() => loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '8788', METRICS_PORT: '8788' })).toThrow(/METRICS_PORT: must differ from PORT/)
    expect(() => loadServiceConfig({ GPU_SERVICE_SECRET: secret, METRICS_PORT: 'metrics' })).toThrow(/METRICS_PORT:/)
    expect(() => loadServiceConfig({ GPU_SERVICE_SECRET: secret, METRICS_PORT: '70000' })).toThrow(/METRICS_PORT:/)
    expect(() => loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '65535' })).toThrow(/METRICS_PORT: PORT is 65535/)
  })

  it('names every bad variable in one error', () => {
    let error: unknown
    try {
      loadServiceConfig({ GPU_SERVICE_SECRET: 'short', PORT: 'http', MODEL_ID: 'Bad Id', DEVICE: 'tpu' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as Error).message
    expect(message).toMatch(/GPU_SERVICE_SECRET: must be at least 32 characters/)
    expect(message).toMatch(/PORT:/)
    expect(message).toMatch(/MODEL_ID:/)
    expect(message).toMatch(/DEVICE:/)
  })

  it('refuses both MODEL_DIR and MODEL_S3_URI, and a malformed S3 URI', () => {
    expect(() => loadServiceConfig({ GPU_SERVICE_SECRET: secret, MODEL_DIR: '/m', MODEL_S3_URI: 's3://b/p/' })).toThrow(/set MODEL_DIR or MODEL_S3_URI, not both/)
    expect(() => loadServiceConfig({ GPU_SERVICE_SECRET: secret, MODEL_S3_URI: 'https://b/p' })).toThrow(/MODEL_S3_URI: must look like s3:\/\/bucket\/prefix\//)
  })

  it('says the secret is required when it is missing', () => {
    expect(() => loadServiceConfig({})).toThrow(/GPU_SERVICE_SECRET: is required/)
  })
})
