import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { ApiError } from '../../errors/api-error.ts'

export interface JsonBodyOptions {
  /** Largest accepted body in bytes (413 beyond, counted while reading). */
  maxBytes: number
}

/** `application/json`, any `+json` type, with or without parameters (e.g. `; charset=utf-8`). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

/**
 * The gate of every route that reads a JSON body, before anything parses it: the body must be declared
 * JSON (`415 unsupported_media_type` otherwise: a plain `curl -d` sends a form type), must not be
 * compressed (`415 unsupported_content_encoding`: a gzip body read as JSON would be misread, and
 * decoding it would let a small body expand past the size cap), and must stay within `maxBytes`
 * (`413 body_too_large`, enforced on the bytes as they arrive).
 *
 * @example app.use('/v1/images/generations', jsonBody({ maxBytes: 16 * 1024 }))
 */
export function jsonBody({ maxBytes }: JsonBodyOptions): MiddlewareHandler {
  if (!(maxBytes > 0)) throw new RangeError('jsonBody: maxBytes must be positive')
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, { code: 'body_too_large', message: `the request body is larger than ${maxBytes} bytes` })
    },
  })
  return async function jsonBodyGate(c, next) {
    const encoding = (c.req.header('content-encoding') ?? '').trim().toLowerCase()
    if (encoding !== '' && encoding !== 'identity') {
      throw new ApiError(415, { code: 'unsupported_content_encoding', message: 'compressed request bodies are not accepted; send the JSON uncompressed' })
    }
    const mediaType = (c.req.header('content-type') ?? '').split(';')[0]?.trim() ?? ''
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new ApiError(415, {
        code: 'unsupported_media_type',
        message: `the body must be JSON: send it with "Content-Type: application/json"${mediaType ? ` (got "${mediaType.slice(0, 100)}")` : ''}`,
      })
    }
    return limit(c, next)
  }
}
