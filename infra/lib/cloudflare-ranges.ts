/**
 * Cloudflare's published edge ranges: the only sources the ALB accepts traffic from, because the edge
 * Worker reaches the GPU origin through Cloudflare's network (anything else skipping Cloudflare
 * would also skip its DDoS protection and the edge's auth and rate limits).
 *
 * Source: https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6 (the same lists as
 * the API, `GET https://api.cloudflare.com/client/v4/ips`). They change rarely and with notice.
 * To refresh: `curl -s https://www.cloudflare.com/ips-v4; curl -s https://www.cloudflare.com/ips-v6`,
 * paste the lines here, run `npm test` (infra/test/cloudflare-ranges.test.ts checks the format and
 * the security group rule count) and redeploy the tier stack.
 *
 * Copied from the lists as published when this was written (15 IPv4, 7 IPv6 ranges); the machine
 * that wrote it had no network, so compare with the live lists before the first deployment.
 */
export const CLOUDFLARE_IPV4_RANGES: readonly string[] = [
  '173.245.48.0/20',
  '103.21.244.0/22',
  '103.22.200.0/22',
  '103.31.4.0/22',
  '141.101.64.0/18',
  '108.162.192.0/18',
  '190.93.240.0/20',
  '188.114.96.0/20',
  '197.234.240.0/22',
  '198.41.128.0/17',
  '162.158.0.0/15',
  '104.16.0.0/13',
  '104.24.0.0/14',
  '172.64.0.0/13',
  '131.0.72.0/22',
]

export const CLOUDFLARE_IPV6_RANGES: readonly string[] = [
  '2400:cb00::/32',
  '2606:4700::/32',
  '2803:f800::/32',
  '2405:b500::/32',
  '2405:8100::/32',
  '2a06:98c0::/29',
  '2c0f:f248::/32',
]
