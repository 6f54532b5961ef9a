import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { contentSecurityPolicy } from './pages.ts'

const origin = 'https://api.test'
const fetchPage = (path: string, init?: RequestInit) => exports.default.fetch(`${origin}${path}`, init)

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/)
    if (name) map.set(name, values)
  }
  return map
}

describe('pages: /, /playground and /docs from edge/public, under a strict CSP', () => {
  it.each([
    ['/', /href="\/playground"/],
    ['/playground', /<label for="api-key">API key<\/label>/],
    ['/docs', /href="\/openapi.json"/],
  ])('serves %s as HTML with the CSP and the security headers', async (path, content) => {
    const response = await fetchPage(path)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).toMatch(content)
    expect(html).toMatch(/<meta name="viewport" content="width=device-width, initial-scale=1">/)
    // Scripts are files of this origin only: no inline <script>, no inline handlers.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/ src="\/static\/[a-z0-9-]+\.js"/)
    expect(html).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/)
    expect(html).not.toMatch(/\son[a-z]+=/)
    expect(html).not.toMatch(/\sstyle=/)
    // Nothing from another host: every src and href is a path of this origin.
    for (const [, url] of html.matchAll(/\s(?:src|href)="([^"]*)"/g)) expect(url).toMatch(/^\/(?!\/)/)

    const csp = directives(response.headers.get('content-security-policy'))
    expect(csp.get('script-src')).toEqual(["'self'"])
    expect(csp.get('default-src')).toEqual(["'none'"])
    expect(csp.get('object-src')).toEqual(["'none'"])
    expect(csp.get('base-uri')).toEqual(["'none'"])
    expect(csp.get('frame-ancestors')).toEqual(["'none'"])
    expect(csp.get('connect-src')).toEqual(["'self'"])
    expect(response.headers.get('content-security-policy')).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/)
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('x-request-id')).toBeTruthy()
  })

  it('serves the pages\' scripts, styles and icon under /static with their types', async () => {
    for (const [path, type] of [
      ['/static/playground.js', /javascript/],
      ['/static/playground-code.js', /javascript/],
      ['/static/docs.js', /javascript/],
      ['/static/site.css', /^text\/css/],
      ['/static/playground.css', /^text\/css/],
      ['/static/docs.css', /^text\/css/],
      ['/static/favicon.svg', /^image\/svg\+xml/],
    ] as const) {
      const response = await fetchPage(path)
      expect(response.status, path).toBe(200)
      expect(response.headers.get('content-type'), path).toMatch(type)
      expect(response.headers.get('content-security-policy'), path).toBe(contentSecurityPolicy())
      // (An SVG's xmlns is a name, not a request.)
      const text = (await response.text()).replace(/xmlns="[^"]*"/g, '')
      // No CDN, no other host: the files name no URL with a scheme (the snippets' origin is the page's).
      expect(text, path).not.toMatch(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)
    }
  })

  it('answers HEAD and conditional requests (the asset server\'s ETag)', async () => {
    const head = await fetchPage('/playground', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const etag = (await fetchPage('/static/playground.js')).headers.get('etag')
    expect(etag).toBeTruthy()
    const again = await fetchPage('/static/playground.js', { headers: { 'if-none-match': etag! } })
    expect(again.status).toBe(304)
  })

  it.each(['/index.html', '/playground.html', '/static/missing.js', '/static/..%2Fwrangler.toml', '/static/.hidden.js', '/static/sub/dir.js', '/playground/'])(
    'is a JSON 404 for %s (only the named pages and /static files are served)',
    async (path) => {
      const response = await fetchPage(path)
      expect(response.status).toBe(404)
      expect(await response.json()).toMatchObject({ error: { code: 'not_found' } })
    },
  )

  it('allows images from PUBLIC_BASE_URL\'s origin when it differs from the page\'s', () => {
    const csp = directives(contentSecurityPolicy(['https://cdn.snoopi.example']))
    expect(csp.get('img-src')).toEqual(["'self'", 'https://cdn.snoopi.example'])
  })
})
