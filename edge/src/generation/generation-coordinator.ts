import { DurableObject } from 'cloudflare:workers'
import type { EdgeBindings } from '../config/edge-config.ts'

/** One per request hash: identical concurrent misses share one upstream call (being built). */
export class GenerationCoordinator extends DurableObject<EdgeBindings> {}
