import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { describe, expect, it } from 'vitest'
import { CLOUDFLARE_IPV4_RANGES, CLOUDFLARE_IPV6_RANGES } from '../lib/cloudflare-ranges.ts'

function parse(cidr: string): { address: string; prefix: number } {
  const [address = '', prefix = ''] = cidr.split('/')
  return { address, prefix: Number(prefix) }
}

describe('Cloudflare ranges', () => {
  it('are the published 15 IPv4 and 7 IPv6 ranges', () => {
    expect(CLOUDFLARE_IPV4_RANGES).toHaveLength(15)
    expect(CLOUDFLARE_IPV6_RANGES).toHaveLength(7)
  })

  it.each(CLOUDFLARE_IPV4_RANGES)('%s is an IPv4 network address with a narrow prefix', (cidr) => {
    const { address, prefix } = parse(cidr)
    expect(isIPv4(address)).toBe(true)
    expect(prefix).toBeGreaterThanOrEqual(8)
    expect(prefix).toBeLessThanOrEqual(24)
    // The address is the network's first address (host bits zero), as security groups require.
    const hostBits = 32 - prefix
    const value = address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
    expect(value % 2 ** hostBits).toBe(0)
  })

  it.each(CLOUDFLARE_IPV6_RANGES)('%s is an IPv6 network with a narrow prefix', (cidr) => {
    const { address, prefix } = parse(cidr)
    expect(isIPv6(address)).toBe(true)
    expect(prefix).toBeGreaterThanOrEqual(16)
    expect(prefix).toBeLessThanOrEqual(48)
  })

  it('has no duplicates or overlaps, and nothing that covers the whole internet', () => {
    const all = [...CLOUDFLARE_IPV4_RANGES, ...CLOUDFLARE_IPV6_RANGES]
    expect(new Set(all).size).toBe(all.length)
    for (const [i, cidr] of CLOUDFLARE_IPV4_RANGES.entries()) {
      const others = new BlockList()
      CLOUDFLARE_IPV4_RANGES.filter((_, j) => j !== i).forEach((other) => {
        const { address, prefix } = parse(other)
        others.addSubnet(address, prefix, 'ipv4')
      })
      expect(others.check(parse(cidr).address, 'ipv4'), `${cidr} overlaps another range`).toBe(false)
    }
    const internet = new BlockList()
    for (const cidr of CLOUDFLARE_IPV4_RANGES) internet.addSubnet(parse(cidr).address, parse(cidr).prefix, 'ipv4')
    expect(internet.check('8.8.8.8', 'ipv4')).toBe(false)
    expect(internet.check('104.16.0.1', 'ipv4')).toBe(true)
  })
})
