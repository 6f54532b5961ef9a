import { Hono } from 'hono'

/** `GET /healthz`: the worker is up. Does not touch storage or the GPU tier. */
export const healthRoutes = new Hono().get('/healthz', (c) => c.json({ status: 'ok' }))
