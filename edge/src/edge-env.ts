import type { GenerationRequest } from './api/generation-schema.ts'
import type { CanonicalRequest } from './cache/canonical-request.ts'
import type { EdgeBindings, EdgeConfig } from './config/edge-config.ts'
import type { IdempotencyVariables } from './idempotency/idempotency.ts'
import type { JobSubmission } from './jobs/job-submission.ts'
import type { AccountVariables } from './middleware/api-key-auth/index.ts'
import type { RateLimitVariables } from './middleware/rate-limit/index.ts'
import type { RequestIdVariables } from './middleware/request-id/index.ts'
import type { HitLookup } from './routes/generations.ts'

/**
 * The edge app's bindings and request-scoped values, in a module of its own so that routes and
 * middleware can name them without importing the app that mounts them.
 * - `config`: the parsed bindings (every `/v1/*` and `/admin/*` request);
 * - `generation` / `canonical`: a generation's body, parsed once, and its canonical form;
 * - `jobSubmission`: a job's request as submitted and its webhook (`POST /v1/jobs`);
 * - `hitLookup`: a generation's cache lookup made before admission (`lookUpHit`).
 */
export type EdgeEnv = {
  Bindings: EdgeBindings
  Variables: RequestIdVariables &
    AccountVariables &
    RateLimitVariables &
    IdempotencyVariables & { config: EdgeConfig; generation: GenerationRequest; canonical: CanonicalRequest; jobSubmission: JobSubmission; hitLookup?: HitLookup }
}
