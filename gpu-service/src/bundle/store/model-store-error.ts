/**
 * Anything wrong while fetching a model bundle from object storage: a bad URI, an empty prefix, a file
 * that does not match its checksum. `file` names the bundle-relative file when one is to blame.
 */
export class ModelStoreError extends Error {
  override name = 'ModelStoreError'
  readonly file: string | undefined
  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(`model store: ${options.file ? `${options.file}: ` : ''}${message}`, options.cause === undefined ? undefined : { cause: options.cause })
    this.file = options.file
  }
}
