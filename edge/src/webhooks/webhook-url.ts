/**
 * Where a webhook may point (SSRF rules). By its form, checked at submission and again before each
 * delivery: `https` only; no credentials; no IP literal in a private, loopback, link-local, shared,
 * multicast, documentation or otherwise reserved range (IPv4 and IPv6, with IPv4-mapped, NAT64 and
 * 6to4 addresses judged by the IPv4 address inside); no `localhost` names, no single-label names, and
 * none of our own tiers' hostnames. At delivery a hostname must also resolve only to addresses these
 * rules accept (see `webhook-delivery.ts`).
 *
 * `allowLoopbackHttp` (the `WEBHOOK_ALLOW_LOOPBACK_HTTP` setting, local development only) admits
 * `http` and `https` to `127.0.0.1` and `localhost` on any port but the GPU service's, nothing else.
 */
export interface WebhookUrlRules {
  allowLoopbackHttp: boolean
  /** Our own tiers' hostnames (lowercase): the edge's public host(s) and the GPU service's. */
  ownHosts: readonly string[]
  /** Loopback ports refused even when loopback is allowed (the GPU service's, when it is local). */
  refusedLoopbackPorts: readonly number[]
}

export type WebhookTarget =
  | { ok: true; url: URL; host: { kind: 'loopback' } | { kind: 'address'; address: string } | { kind: 'name'; name: string } }
  | { ok: false; reason: string }

export const MAX_WEBHOOK_URL_LENGTH = 2048

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** `[first address, prefix length]` of each refused IPv4 range. */
const REFUSED_V4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata endpoints)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.31.196.0', 24], // AS112
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['192.175.48.0', 24], // AS112
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
]

function v4Number(address: string): number | undefined {
  const match = IPV4.exec(address)
  if (!match) return undefined
  const parts = match.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + p, 0)
}

function v4InRange(value: number, [first, bits]: [string, number]): boolean {
  const base = v4Number(first) as number
  const size = 2 ** (32 - bits)
  return value >= base && value < base + size
}

function refusedV4(value: number): boolean {
  return REFUSED_V4.some((range) => v4InRange(value, range))
}

/** The eight 16-bit groups of an IPv6 address (with an optional dotted IPv4 tail), or undefined. */
export function parseIpv6(text: string): number[] | undefined {
  let address = text.toLowerCase()
  if (address.includes('%')) return undefined // zone ids: never a public address
  const lastColon = address.lastIndexOf(':')
  const tail = address.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = v4Number(tail)
    if (v4 === undefined) return undefined
    address = `${address.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`
  }
  const halves = address.split('::')
  if (halves.length > 2) return undefined
  const groups = (part: string) => (part === '' ? [] : part.split(':'))
  const head = groups(halves[0] as string)
  const rest = halves.length === 2 ? groups(halves[1] as string) : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined
  return all.map((g) => parseInt(g, 16))
}

function refusedV6(groups: number[]): boolean {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number]
  const embedded = g6 * 65536 + g7
  const zeroUpTo = (n: number) => groups.slice(0, n).every((g) => g === 0)
  // IPv4-mapped (::ffff:a.b.c.d): judged as the IPv4 address.
  if (zeroUpTo(5) && g5 === 0xffff) return refusedV4(embedded)
  // NAT64 (64:ff9b::/96): judged as the IPv4 address; the local-use 64:ff9b:1::/48 is refused.
  if (g0 === 0x64 && g1 === 0xff9b) return g2 === 1 || !(g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) || refusedV4(embedded)
  // 6to4 (2002::/16): the IPv4 address is in bits 16–47.
  if (g0 === 0x2002) return refusedV4(g1 * 65536 + g2)
  // Outside global unicast (2000::/3): unspecified, loopback, IPv4-compatible, discard, ULA, link-local, multicast …
  if (g0 < 0x2000 || g0 > 0x3fff) return true
  if (g0 === 0x2001 && g1 < 0x200) return true // IETF protocol assignments (Teredo, ORCHID, …)
  if (g0 === 0x2001 && g1 === 0xdb8) return true // documentation
  if (g0 === 0x3fff && g1 < 0x1000) return true // documentation (3fff::/20)
  return false
}

/** Whether an IP address (IPv4 dotted or IPv6 text, without brackets) is one a webhook may not reach. */
export function isRefusedAddress(address: string): boolean {
  const v4 = v4Number(address)
  if (v4 !== undefined) return refusedV4(v4)
  const v6 = parseIpv6(address)
  return v6 === undefined ? true : refusedV6(v6)
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost'
}

function defaultPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
}

/** The rules' verdict on a webhook URL by its form (no DNS). */
export function checkWebhookUrl(text: string, rules: WebhookUrlRules): WebhookTarget {
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: `the URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return { ok: false, reason: 'not an absolute URL' }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'the scheme must be https' }
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not allowed' }
  // The WHATWG parser has already canonicalised IPv4 forms (0x7f.1, 2130706433 …) to dotted decimal.
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '')

  if (rules.allowLoopbackHttp && isLoopbackHost(hostname)) {
    if (rules.refusedLoopbackPorts.includes(defaultPort(url))) return { ok: false, reason: "the GPU service's port is not a webhook target" }
    return { ok: true, url, host: { kind: 'loopback' } }
  }
  if (url.protocol !== 'https:') return { ok: false, reason: 'the scheme must be https' }
  if (hostname.startsWith('[')) {
    const address = hostname.slice(1, -1)
    return isRefusedAddress(address) ? { ok: false, reason: `${address} is in a refused address range` } : { ok: true, url, host: { kind: 'address', address } }
  }
  if (v4Number(hostname) !== undefined) {
    return isRefusedAddress(hostname) ? { ok: false, reason: `${hostname} is in a refused address range` } : { ok: true, url, host: { kind: 'address', address: hostname } }
  }
  if (/^\d+(\.\d+)*$/.test(hostname)) return { ok: false, reason: 'not a valid host' }
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return { ok: false, reason: 'localhost is not a webhook target' }
  if (!hostname.includes('.')) return { ok: false, reason: 'a single-label hostname is not a public host' }
  if (rules.ownHosts.includes(hostname)) return { ok: false, reason: `${hostname} is one of this service's own hosts` }
  return { ok: true, url, host: { kind: 'name', name: hostname } }
}

/** The rules for this deployment: our own hosts from the settings (and the submission's origin). */
export function webhookRules(config: { GPU_SERVICE_URL: string; PUBLIC_BASE_URL?: string | undefined; WEBHOOK_ALLOW_LOOPBACK_HTTP: boolean }, edgeOrigins: readonly string[]): WebhookUrlRules {
  const gpu = new URL(config.GPU_SERVICE_URL)
  const hosts = [gpu.hostname, ...[config.PUBLIC_BASE_URL, ...edgeOrigins].flatMap((o) => (o ? [new URL(o).hostname] : []))]
  const gpuHost = gpu.hostname.toLowerCase()
  return {
    allowLoopbackHttp: config.WEBHOOK_ALLOW_LOOPBACK_HTTP,
    ownHosts: [...new Set(hosts.map((h) => h.toLowerCase()))],
    refusedLoopbackPorts: isLoopbackHost(gpuHost) || gpuHost === '[::1]' ? [defaultPort(gpu)] : [],
  }
}
