import { z } from 'zod'

/** The `type` of an error, as OpenAI's API names them. */
export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'rate_limit_error' | 'server_error'

/** The one error shape of both tiers (OpenAI style): `{ error: { type, message, code } }`. */
export const errorBodySchema = z.object({ error: z.object({ type: z.string(), message: z.string(), code: z.string() }) })
export type ErrorBody = z.infer<typeof errorBodySchema>

/** The type a status implies when none is given: 5xx are server errors, the rest invalid requests. */
export function errorTypeFor(status: number): ErrorType {
  return status >= 500 ? 'server_error' : 'invalid_request_error'
}

/**
 * An error body. Both tiers build every error answer with this, so the shape cannot drift.
 *
 * @example errorBody(404, 'not_found', 'no such image') // { error: { type: 'invalid_request_error', … } }
 */
export function errorBody(status: number, code: string, message: string, type: ErrorType = errorTypeFor(status)): ErrorBody {
  return { error: { type, message, code } }
}
