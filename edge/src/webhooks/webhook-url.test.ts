import { describe, expect, it } from 'vitest'
import { checkDeliveryTarget } from './webhook-delivery.ts'
import { checkWebhookUrl, isRefusedAddress, parseIpv6, webhookRules, type WebhookUrlRules } from './webhook-url.ts'

const production = webhookRules({ GPU_SERVICE_URL: 'https://gpu.snoopi.example', PUBLIC_BASE_URL: 'https://img.snoopi.example', WEBHOOK_ALLOW_LOOPBACK_HTTP: false }, ['https://api.snoopi.example'])
const local = webhookRules({ GPU_SERVICE_URL: 'http://127.0.0.1:8788', WEBHOOK_ALLOW_LOOPBACK_HTTP: true }, ['http://127.0.0.1:8787'])

const verdict = (url: string, rules: WebhookUrlRules = production) => checkWebhookUrl(url, rules)

describe('webhook URL rules (by form)', () => {
  it.each([
    'https://hooks.example.com/snoopi?x=1',
    'https://93.184.215.14/hook',
    'https://[2606:4700:4700::1111]/hook',
    'https://[::ffff:93.184.215.14]/hook',
    'https://HOOKS.Example.COM./x',
  ])('accepts %s', (url) => {
    expect(verdict(url)).toMatchObject({ ok: true })
  })

  it.each([
    ['http://hooks.example.com/', /https/],
    ['ftp://hooks.example.com/', /https/],
    ['not a url', /absolute URL/],
    ['https://user:pass@hooks.example.com/', /credentials/],
    [`https://hooks.example.com/${'a'.repeat(2048)}`, /longer than/],
  ])('refuses %s (scheme, form)', (url, reason) => {
    const result = verdict(url)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toMatch(reason)
  })

  it.each([
    'https://127.0.0.1/',
    'https://127.255.0.1/',
    'https://0x7f.1/', // the URL parser reads these as 127.0.0.1
    'https://2130706433/',
    'https://017700000001/',
    'https://10.1.2.3/',
    'https://172.16.0.1/',
    'https://172.31.255.255/',
    'https://192.168.1.1/',
    'https://169.254.169.254/latest/meta-data/',
    'https://100.64.0.1/',
    'https://0.0.0.0/',
    'https://192.0.2.10/',
    'https://198.18.0.1/',
    'https://198.51.100.1/',
    'https://203.0.113.9/',
    'https://224.0.0.1/',
    'https://240.0.0.1/',
    'https://255.255.255.255/',
    'https://[::1]/',
    'https://[::]/',
    'https://[fe80::1]/',
    'https://[fc00::1]/',
    'https://[fd12:3456::1]/',
    'https://[ff02::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[::ffff:10.0.0.1]/',
    'https://[::ffff:169.254.169.254]/',
    'https://[64:ff9b::10.0.0.1]/',
    'https://[64:ff9b:1::1]/',
    'https://[2002:a00:1::]/',
    'https://[2001:db8::1]/',
    'https://[2001::1]/',
    'https://[100::1]/',
    'https://[::127.0.0.1]/',
  ])('refuses the IP literal %s', (url) => {
    const result = verdict(url)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toMatch(/refused address range/)
  })

  it.each([
    ['https://localhost/', /localhost/],
    ['https://api.localhost/', /localhost/],
    ['https://intranet/', /single-label/],
    ['https://gpu.snoopi.example/x', /own hosts/],
    ['https://img.snoopi.example/x', /own hosts/],
    ['https://api.snoopi.example/v1/jobs', /own hosts/],
  ])('refuses the hostname of %s', (url, reason) => {
    const result = verdict(url)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toMatch(reason)
  })

  it('with WEBHOOK_ALLOW_LOOPBACK_HTTP: http and https to 127.0.0.1 and localhost on any port but the GPU service’s, nothing else', () => {
    for (const url of ['http://127.0.0.1:9999/hook', 'http://localhost:3000/', 'https://127.0.0.1/', 'http://127.0.0.1:8787/']) expect([url, verdict(url, local).ok]).toEqual([url, true])
    for (const url of ['http://127.0.0.1:8788/internal/generate', 'http://localhost:8788/', 'http://127.0.0.2/', 'http://[::1]:9999/', 'http://10.0.0.1/', 'http://hooks.example.com/']) {
      expect([url, verdict(url, local).ok]).toEqual([url, false])
    }
    // Without the setting, loopback is refused like any private address.
    expect(verdict('http://127.0.0.1:9999/', production).ok).toBe(false)
  })
})

describe('addresses', () => {
  it('parses IPv6 forms', () => {
    expect(parseIpv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1])
    expect(parseIpv6('2606:4700::1111')).toEqual([0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111])
    expect(parseIpv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x102, 0x304])
    expect(parseIpv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    for (const bad of ['1::2::3', '12345::', '1:2:3', 'fe80::1%eth0', 'x::1']) expect([bad, parseIpv6(bad)]).toEqual([bad, undefined])
  })

  it('judges resolved addresses', () => {
    for (const address of ['93.184.215.14', '1.1.1.1', '2606:4700:4700::1111']) expect([address, isRefusedAddress(address)]).toEqual([address, false])
    for (const address of ['10.0.0.7', '127.0.0.1', '::1', 'fd00::1', '::ffff:192.168.0.1', 'garbage']) expect([address, isRefusedAddress(address)]).toEqual([address, true])
  })
})

describe('checks at delivery (after resolution)', () => {
  it('refuses a hostname that resolves to a refused address, does not resolve, or cannot be resolved', async () => {
    const resolve = (map: Record<string, string[]>) => (name: string) => (name in map ? Promise.resolve(map[name] as string[]) : Promise.reject(new Error(`lookup of ${name} failed`)))
    const dns = resolve({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'], 'rebind.example.com': ['93.184.215.14', '10.0.0.7'], 'empty.example.com': [] })
    expect(await checkDeliveryTarget('https://hooks.example.com/x', production, dns)).toMatchObject({ ok: true })
    expect(await checkDeliveryTarget('https://rebind.example.com/x', production, dns)).toEqual({ ok: false, reason: 'rebind.example.com resolves to 10.0.0.7, a refused address' })
    expect(await checkDeliveryTarget('https://empty.example.com/x', production, dns)).toEqual({ ok: false, reason: 'empty.example.com does not resolve' })
    const gone = await checkDeliveryTarget('https://gone.example.com/x', production, dns)
    expect(gone.ok ? '' : gone.reason).toMatch(/lookup of gone.example.com failed/)
    // Literals and loopback need no lookup; the form is checked again.
    expect(await checkDeliveryTarget('http://127.0.0.1:9999/', local, dns)).toMatchObject({ ok: true })
    expect(await checkDeliveryTarget('https://10.0.0.1/', production, dns)).toMatchObject({ ok: false })
  })
})
