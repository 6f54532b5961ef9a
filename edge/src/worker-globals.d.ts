// Tells workers-types what the main module exports and which bindings `env` carries, so
// `exports.default` and `env` from `cloudflare:workers` (used by the tests) are typed.
import type { EdgeBindings } from './config/edge-config.ts'
import type * as main from './index.ts'

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof main
    }
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Env extends EdgeBindings {}
  }
}
