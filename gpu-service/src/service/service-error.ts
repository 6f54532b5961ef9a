/**
 * Every error the service answers a caller with, as one class: each carries its HTTP status, the
 * error code, the `snoopi_errors_total{kind}` label it counts under and, where the caller should come
 * back later, its Retry-After. The layers throw these; the HTTP app's error handler (http/errors.ts)
 * turns them into the error shape, and the CLI into exit codes. Anything else that reaches the handler
 * is a bug: a 500 `internal_error`.
 */

/** Statuses a ServiceError may carry (499: the client closed the connection first, as nginx logs it). */
export type ServiceErrorStatus = 400 | 404 | 409 | 413 | 499 | 500 | 503 | 504

/** The label of `snoopi_errors_total`; errors without one (413 from the body cap) are not counted. */
export type ErrorKind = 'bad_request' | 'loading' | 'version_mismatch' | 'queue_full' | 'shutting_down' | 'deadline' | 'client_gone' | 'internal'

export interface ServiceErrorInit {
  status: ServiceErrorStatus
  code: string
  kind?: ErrorKind | undefined
  /** Seconds, sent as Retry-After. */
  retryAfterSeconds?: number | undefined
  /** What went wrong underneath (logged, never sent). */
  cause?: unknown
}

export class ServiceError extends Error {
  override name = 'ServiceError'
  readonly status: ServiceErrorStatus
  readonly code: string
  readonly kind: ErrorKind | undefined
  readonly retryAfterSeconds: number | undefined

  constructor(message: string, { status, code, kind, retryAfterSeconds, cause }: ServiceErrorInit) {
    super(message, cause === undefined ? undefined : { cause })
    this.status = status
    this.code = code
    this.kind = kind
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** Bad input from the caller: a 400 in the HTTP API, exit code 2 in the CLI. */
export class InvalidRequestError extends ServiceError {
  override name = 'InvalidRequestError'
  constructor(message: string, code = 'invalid_request') {
    super(message, { status: 400, code, kind: 'bad_request' })
  }
}

export class BodyTooLargeError extends ServiceError {
  override name = 'BodyTooLargeError'
  constructor(maxBytes: number) {
    super(`request body over ${maxBytes} bytes`, { status: 413, code: 'body_too_large' })
  }
}

export class ModelNotFoundError extends ServiceError {
  override name = 'ModelNotFoundError'
  constructor(served: string, asked: string) {
    super(`this service serves "${served}", not "${asked}"`, { status: 404, code: 'model_not_found', kind: 'bad_request' })
  }
}

export class ModelLoadingError extends ServiceError {
  override name = 'ModelLoadingError'
  constructor() {
    super('the model is still loading', { status: 503, code: 'loading', kind: 'loading', retryAfterSeconds: 5 })
  }
}

/** The caller would cache the images under another model version than the one loaded here. */
export class ModelVersionMismatchError extends ServiceError {
  override name = 'ModelVersionMismatchError'
  constructor(modelId: string, served: string, asked: string) {
    super(`this service serves "${modelId}" version "${served}", not "${asked}" (the edge's MODELS names another version)`, {
      status: 409,
      code: 'model_version_mismatch',
      kind: 'version_mismatch',
    })
  }
}

/** The batcher's queue holds its limit of images; Retry-After comes from the measured service rate. */
export class QueueFullError extends ServiceError {
  override name = 'QueueFullError'
  constructor(retryAfterSeconds: number) {
    super(`the queue is full; retry in ${retryAfterSeconds} s`, { status: 503, code: 'queue_full', kind: 'queue_full', retryAfterSeconds })
  }
}

export class ShuttingDownError extends ServiceError {
  override name = 'ShuttingDownError'
  constructor(message = 'the service is shutting down') {
    super(message, { status: 503, code: 'shutting_down', kind: 'shutting_down', retryAfterSeconds: 5 })
  }
}

export class DeadlineError extends ServiceError {
  override name = 'DeadlineError'
  constructor(message = 'the request waited past its deadline') {
    super(message, { status: 504, code: 'deadline_exceeded', kind: 'deadline' })
  }
}

export class ClientGoneError extends ServiceError {
  override name = 'ClientGoneError'
  constructor(message = 'the client went away') {
    super(message, { status: 499, code: 'client_gone', kind: 'client_gone' })
  }
}

/** The pipeline failed on validated input (a bug or a device fault): the cause is logged, not sent. */
export class GenerationFailedError extends ServiceError {
  override name = 'GenerationFailedError'
  constructor(cause: unknown) {
    super('generation failed', { status: 500, code: 'generation_failed', kind: 'internal', cause })
  }
}
