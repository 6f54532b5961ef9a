import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'

/**
 * A real S3-protocol server (s3rver) on a free port with its data in a temp folder, for tests. It
 * runs in a child process (s3rver-child.ts says why); `corruptStoredObject` edits its data folder.
 */
export interface TestS3 {
  endpoint: string
  /** A fresh client for the server; `calls` counts the commands it sends by name ("GetObjectCommand"). */
  client: () => { client: S3Client; calls: Map<string, number> }
  createBucket: (bucket: string) => Promise<void>
  /** Uploads every file under `dir` to `s3://bucket/prefix<relative path>`; `extra` adds or replaces files. */
  uploadFolder: (dir: string, bucket: string, prefix: string, extra?: Record<string, string | Buffer>) => Promise<void>
  put: (bucket: string, key: string, body: string | Buffer) => Promise<void>
  /** Flips the first byte of a stored object behind the server's back: same size, stale ETag. */
  corruptStoredObject: (bucket: string, key: string) => void
  stop: () => Promise<void>
}

// s3rver's default credentials.
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export async function startS3rver(): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'snoopi-s3rver-'))
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      '--disable-warning=DEP0066',
      '--disable-warning=ExperimentalWarning',
      join(import.meta.dirname, 's3rver-child.ts'),
      directory,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const exited = once(child, 'exit')
  const firstLine = once(createInterface({ input: child.stdout }), 'line') as Promise<[string]>
  const failed = exited.then(([code]) => Promise.reject(new Error(`s3rver exited with code ${String(code)} before listening`)))
  const [line] = await Promise.race([firstLine, failed])
  const { port } = JSON.parse(line) as { port: number }
  const endpoint = `http://127.0.0.1:${port}`
  const makeClient = () => {
    const calls = new Map<string, number>()
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials })
    client.middlewareStack.add(
      (next, context) => (args) => {
        const name = context.commandName ?? 'unknown'
        calls.set(name, (calls.get(name) ?? 0) + 1)
        return next(args)
      },
      { step: 'initialize', name: 'countCommands' },
    )
    return { client, calls }
  }
  const admin = makeClient().client
  const put = async (bucket: string, key: string, body: string | Buffer) => {
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
  }
  return {
    endpoint,
    client: makeClient,
    createBucket: async (bucket) => {
      await admin.send(new CreateBucketCommand({ Bucket: bucket }))
    },
    put,
    uploadFolder: async (dir, bucket, prefix, extra = {}) => {
      const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
      const bodies = new Map<string, string | Buffer>(files.map((entry) => {
        const path = relative(dir, join(entry.parentPath, entry.name))
        return [path, readFileSync(join(dir, path))]
      }))
      for (const [path, body] of Object.entries(extra)) bodies.set(path, body)
      await Promise.all([...bodies].map(([path, body]) => put(bucket, `${prefix}${path}`, body)))
    },
    corruptStoredObject: (bucket, key) => {
      const parts = key.split('/')
      const file = join(directory, bucket, ...parts.slice(0, -1), `${parts.at(-1)}._S3rver_object`)
      const bytes = readFileSync(file)
      bytes[0] = (bytes[0] ?? 0) ^ 0xff
      writeFileSync(file, bytes)
    },
    stop: async () => {
      admin.destroy()
      child.stdin.end()
      await exited
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
