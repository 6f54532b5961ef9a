import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { errorBody } from '../contract/error-body.ts'

/** An error answer in the one error shape of both tiers (see contract/error-body.ts). */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json(errorBody(status, code, message), status)
}
