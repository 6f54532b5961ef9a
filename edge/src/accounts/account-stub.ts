import type { EdgeBindings } from '../config/edge-config.ts'
import type { KeyAccount } from './key-account.ts'

export type KeyAccountStub = DurableObjectStub<KeyAccount>

/** The Durable Object of the key whose hash is `hash` (see `keyHash`), typed for RPC. */
export function accountStub(env: Pick<EdgeBindings, 'KEY_ACCOUNTS'>, hash: string): KeyAccountStub {
  // EdgeBindings declares the namespace untyped; this is the one place that names its class.
  const namespace = env.KEY_ACCOUNTS as DurableObjectNamespace<KeyAccount>
  return namespace.get(namespace.idFromName(hash))
}

/**
 * The same object from its id's string form (`stub.id.toString()`): how a request names its key's
 * account to another Durable Object (the generation coordinator charges the key that leads a generation).
 */
export function accountStubById(env: Pick<EdgeBindings, 'KEY_ACCOUNTS'>, id: string): KeyAccountStub {
  const namespace = env.KEY_ACCOUNTS as DurableObjectNamespace<KeyAccount>
  return namespace.get(namespace.idFromString(id))
}
