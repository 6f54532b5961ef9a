/** Worker entry point (wrangler.toml `main`): the app and its Durable Object classes. */
import { createApp } from './app.ts'

export { KeyAccount } from './accounts/key-account.ts'
export { GenerationCoordinator } from './generation/generation-coordinator.ts'

export default createApp()
