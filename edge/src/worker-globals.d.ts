// Tells workers-types what the main module exports, so `exports.default` from `cloudflare:workers`
// (used by the tests) is typed.
import type * as main from './index.ts'

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof main
    }
  }
}
