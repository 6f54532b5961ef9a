import { DEFAULT_CACHE_SCOPE, type AccountRecord, type CacheScope, type Scope } from '../accounts/account-record.ts'
import { accountStub } from '../accounts/account-stub.ts'
import type { PlanName } from '../accounts/plans.ts'
import type { EdgeBindings } from '../config/edge-config.ts'
import { generateApiKey, generateKeyId, isKeyId, keyHash } from './api-key.ts'

type RegistryBindings = Pick<EdgeBindings, 'KEY_ACCOUNTS' | 'KEY_INDEX'>

/** A key as the admin listing shows it (Unix seconds). Never the key, never its hash. */
export interface KeyListing {
  id: string
  owner: string
  plan: PlanName
  scopes: Scope[]
  cache_scope: CacheScope
  created_at: number
  revoked_at: number | null
}

/** The admin's one view of a new key: the listing plus the key itself, shown this once. */
export interface IssuedKey extends KeyListing {
  key: string
}

/**
 * The KV index (`KEY_INDEX`) maps `key:<id>` to the listing (as metadata, so listing needs no reads
 * per key) and, in the value, the key's hash — the name of its Durable Object, which revocation needs.
 * The index serves the admin routes only: authentication never reads it (KV is eventually
 * consistent; a key's Durable Object is not).
 */
interface IndexValue {
  hash: string
  listing: StoredListing
}

/** A listing as the index may hold it: entries written before cache scopes have no `cache_scope`. */
type StoredListing = Omit<KeyListing, 'cache_scope'> & { cache_scope?: CacheScope }

const INDEX_PREFIX = 'key:'

function seconds(ms: number): number {
  return Math.floor(ms / 1000)
}

/** A stored listing as the current shape: entries from before cache scopes read as `shared`. */
function readListing(stored: StoredListing): KeyListing {
  return { ...stored, cache_scope: stored.cache_scope ?? DEFAULT_CACHE_SCOPE }
}

async function writeIndex(env: RegistryBindings, value: IndexValue): Promise<void> {
  await env.KEY_INDEX.put(INDEX_PREFIX + value.listing.id, JSON.stringify(value), { metadata: value.listing })
}

function listingOf(record: AccountRecord): KeyListing {
  return {
    id: record.id,
    owner: record.owner,
    plan: record.plan,
    scopes: record.scopes,
    cache_scope: record.cacheScope ?? DEFAULT_CACHE_SCOPE,
    created_at: record.createdAt,
    revoked_at: record.revokedAt ?? null,
  }
}

/**
 * Issues a key: the index entry first, then the key's Durable Object. In that order every key that
 * can authenticate is findable (and so revocable) by id; a failure between the two leaves an index
 * entry whose object has no record, which never authenticates.
 */
export async function issueKey(
  env: RegistryBindings,
  input: { owner: string; plan: PlanName; scopes: Scope[]; cacheScope?: CacheScope },
  now = Date.now(),
): Promise<IssuedKey> {
  const key = await generateApiKey()
  const hash = await keyHash(key)
  const record: AccountRecord = {
    id: generateKeyId(),
    owner: input.owner,
    plan: input.plan,
    scopes: [...new Set(input.scopes)],
    cacheScope: input.cacheScope ?? DEFAULT_CACHE_SCOPE,
    createdAt: seconds(now),
  }
  const listing = listingOf(record)
  await writeIndex(env, { hash, listing })
  await accountStub(env, hash).create(record)
  return { ...listing, key }
}

/** Every key in the index, newest first, optionally only one owner's. */
export async function listKeys(env: RegistryBindings, filter: { owner?: string } = {}): Promise<KeyListing[]> {
  const listings: KeyListing[] = []
  let cursor: string | undefined
  do {
    const page = await env.KEY_INDEX.list<StoredListing>({ prefix: INDEX_PREFIX, ...(cursor ? { cursor } : {}) })
    for (const { metadata } of page.keys) {
      if (metadata && (filter.owner === undefined || metadata.owner === filter.owner)) listings.push(readListing(metadata))
    }
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  return listings.sort((a, b) => b.created_at - a.created_at || a.id.localeCompare(b.id))
}

/**
 * Revokes a key by id: its Durable Object first (from then on it never authenticates again), then the
 * index entry. Idempotent. Null when the id is unknown.
 */
export async function revokeKey(env: RegistryBindings, id: string, now = Date.now()): Promise<KeyListing | null> {
  if (!isKeyId(id)) return null
  const value = await env.KEY_INDEX.get<IndexValue>(INDEX_PREFIX + id, 'json')
  if (!value) return null
  const record = await accountStub(env, value.hash).revoke()
  const listing: KeyListing = record ? listingOf(record) : { ...readListing(value.listing), revoked_at: value.listing.revoked_at ?? seconds(now) }
  if (listing.revoked_at !== value.listing.revoked_at) await writeIndex(env, { hash: value.hash, listing })
  return listing
}
