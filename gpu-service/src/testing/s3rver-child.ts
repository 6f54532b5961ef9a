// Runs s3rver for s3rver-fixture.ts in its own Node process, started with --openssl-legacy-provider:
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node ≥ 17's OpenSSL 3 refuses
// without the legacy provider (every second page fails with InternalError). Prints {"port":…} once
// listening; stops when its stdin closes, so it never outlives the test process.
import S3rver from 's3rver'

const directory = process.argv[2]
if (!directory) throw new Error('usage: s3rver-child.ts <data directory>')
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory })
const { port } = await server.run()
process.stdout.write(`${JSON.stringify({ port })}\n`)
process.stdin.on('end', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
process.stdin.resume()
