import { WEBHOOK_SECRET_PREFIX } from './webhook-secret.ts'

/**
 * Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256("<id>.<timestamp>.<body>")>`,
 * keyed with the base64-decoded part of the secret after `whsec_`; one space-separated entry per
 * secret that signs (two during a rotation).
 */
const encoder = new TextEncoder()

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

function toBase64(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
}

async function sign(secret: string, content: string): Promise<string> {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new Error('webhook secret: not a whsec_ secret')
  const key = await crypto.subtle.importKey('raw', fromBase64(secret.slice(WEBHOOK_SECRET_PREFIX.length)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return toBase64(await crypto.subtle.sign('HMAC', key, encoder.encode(content)))
}

export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/** The three Standard Webhooks headers of `body`, signed by every secret in `secrets` (at least one). */
export async function signWebhook(options: { id: string; timestampSeconds: number; body: string; secrets: readonly string[] }): Promise<WebhookHeaders> {
  if (options.secrets.length === 0) throw new Error('signWebhook: no secret')
  const content = `${options.id}.${options.timestampSeconds}.${options.body}`
  const signatures = await Promise.all(options.secrets.map(async (secret) => `v1,${await sign(secret, content)}`))
  return { 'webhook-id': options.id, 'webhook-timestamp': String(options.timestampSeconds), 'webhook-signature': signatures.join(' ') }
}
