// s3rver ships no types; this covers the part the tests use (node_modules/s3rver/README.md).
declare module 's3rver' {
  import type { AddressInfo } from 'node:net'

  interface S3rverOptions {
    /** Default 'localhost'. */
    address?: string
    /** Default 4568; 0 picks a free port. */
    port?: number
    silent?: boolean
    /** Where buckets are stored. */
    directory?: string
    resetOnClose?: boolean
    allowMismatchedSignatures?: boolean
    vhostBuckets?: boolean
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[]
  }

  export default class S3rver {
    constructor(options?: S3rverOptions)
    /** Starts listening; resolves to the bound address. */
    run(): Promise<AddressInfo>
    close(): Promise<void>
    reset(): void
  }
}
