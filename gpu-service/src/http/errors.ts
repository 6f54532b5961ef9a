import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** The one error shape of both tiers (OpenAI style): `{ error: { type, message, code } }`. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  const type = status >= 500 ? 'server_error' : 'invalid_request_error'
  return c.json({ error: { type, code, message } }, status)
}
