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
      SIGNATURE_WINDOW_S: 300,
      MODEL_ID: 'snoopi-default',
      DEVICE: 'cpu',
      ORT_THREADS: 0,
      NAG_NORM: 'l2',
    })
  })

  it('coerces numbers from strings', () => {
    expect(loadServiceConfig({ GPU_SERVICE_SECRET: secret, PORT: '9000' }).PORT).toBe(9000)
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

  it('says the secret is required when it is missing', () => {
    expect(() => loadServiceConfig({})).toThrow(/GPU_SERVICE_SECRET: is required/)
  })
})
