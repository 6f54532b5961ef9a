import { env } from 'cloudflare:workers'
import { toHex } from '@snoopi/gpu-service/contract/hex'

/** The real R2 binding of wrangler.toml (`IMAGES`), as tests see it. */
export const IMAGES = (env as unknown as { IMAGES: R2Bucket }).IMAGES

/** A random id of `length` lowercase hex characters, so tests never share R2 or cache entries. */
export function randomHex(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)))
  return toHex(bytes).slice(0, length)
}

export interface BucketCall {
  method: 'get' | 'head' | 'put'
  key: string
  /** 'start' when called, 'end' when its promise settled. */
  phase: 'start' | 'end'
}

/**
 * The real bucket behind a recording wrapper: every get/head/put is logged (start and end), and a put
 * whose key `failPut` accepts rejects instead of writing.
 */
export function recordingBucket(options: { failPut?: (key: string) => boolean } = {}): { bucket: R2Bucket; calls: BucketCall[] } {
  const calls: BucketCall[] = []
  const bucket = new Proxy(IMAGES, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      if (property !== 'get' && property !== 'head' && property !== 'put') return value.bind(target) as unknown
      return async (key: string, ...rest: unknown[]) => {
        calls.push({ method: property, key, phase: 'start' })
        try {
          if (property === 'put' && options.failPut?.(key)) throw new Error(`injected failure writing ${key}`)
          return await (value as (...args: unknown[]) => Promise<unknown>).call(target, key, ...rest)
        } finally {
          calls.push({ method: property, key, phase: 'end' })
        }
      }
    },
  })
  return { bucket, calls }
}
