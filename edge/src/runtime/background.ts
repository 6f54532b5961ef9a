import type { Context } from 'hono'

/**
 * Lets `work` finish after the response is sent (`waitUntil`), so bookkeeping (usage counters,
 * handing back a concurrency slot) stays off the request's critical path. Without an execution
 * context (a Hono app called directly in a test) it is awaited instead.
 */
export async function afterResponse(c: Context, work: Promise<unknown>): Promise<void> {
  let ctx: ExecutionContext | undefined
  try {
    ctx = c.executionCtx as ExecutionContext
  } catch {
    ctx = undefined
  }
  if (ctx) ctx.waitUntil(work)
  else await work
}
