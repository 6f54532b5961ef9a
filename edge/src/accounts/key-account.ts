import { DurableObject } from 'cloudflare:workers'
import type { EdgeBindings } from '../config/edge-config.ts'

/** Per-API-key state (being built: record, token buckets, concurrency, usage). */
export class KeyAccount extends DurableObject<EdgeBindings> {}
