import { signRequest } from '../contract/request-signature.ts'

/** Calls the GPU service the way the edge does: HMAC-signed (see auth/request-signature.ts). */
export async function signedFetch(
  base: string,
  path: string,
  { secret, method = 'POST', body, now, signal }: { secret: string; method?: 'GET' | 'POST'; body?: unknown; now?: number; signal?: AbortSignal },
): Promise<Response> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  const headers = await signRequest({ secret, method, path, body: text, now })
  return fetch(base + path, { method, body: text, signal, headers: { ...headers, 'content-type': 'application/json' } })
}

/** Reads a multipart answer of /internal/generate into its meta JSON and image bytes. */
export async function readImages(response: Response): Promise<{ meta: { images: { seed: string; content_type: string }[]; batch_images: number }; images: Uint8Array[] }> {
  const form = await response.formData()
  const meta = JSON.parse(await (form.get('meta') as Blob).text()) as { images: { seed: string; content_type: string }[]; batch_images: number }
  const images: Uint8Array[] = []
  for (let i = 0; form.has(`image-${i}`); i++) images.push(new Uint8Array(await (form.get(`image-${i}`) as Blob).arrayBuffer()))
  return { meta, images }
}
