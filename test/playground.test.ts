import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { compileErrors, validate } from '@readme/openapi-parser'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type LocalStack } from './start-stack.ts'

/**
 * The playground and the docs in a real browser: Debian's Chromium driven by playwright-core, against
 * the stack `npm start` runs (wrangler dev + the GPU service), started once for every check here.
 */
const root = resolve(import.meta.dirname, '..')
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
/** The README's screenshot of a comparison (written by the Compare test). */
const SCREENSHOT = join(root, 'docs/playground-compare.png')
/** How long the page may take to answer under load (2 cores, several stacks at once in `npm test`). */
const WAIT = { timeout: 30_000, interval: 100 }

let stack: LocalStack | undefined
let edgeUrl = ''
let adminToken = ''
let key = ''
let browser: Browser | undefined
let browserError: Error | undefined


/** Chromium, or an error that says how to install it (the browser tests fail with it; the others run). */
async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: install Debian's package as root with \`apt-get update && apt-get install -y chromium\` (.ci/run does this when it is missing)`)
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
}

beforeAll(async () => {
  try {
    await startEverything()
  } catch (error) {
    // The stack's own words explain most failures (a port, a bundle, a worker that did not build).
    throw new Error(`${(error as Error).message}\n--- npm start's output (last 6000 characters) ---\n${(stack?.output ?? '').slice(-6000)}`, { cause: error })
  }
}, 180_000)

async function startEverything(): Promise<void> {
  const [launched, started] = await Promise.allSettled([launchChromium(), startStack('snoopi-playground-', { metricsPort: true })])
  if (launched.status === 'fulfilled') browser = launched.value
  else browserError = launched.reason as Error
  if (started.status === 'rejected') throw started.reason
  stack = started.value
  edgeUrl = stack.edgeUrl
  adminToken = stack.devVars.ADMIN_TOKEN!
  // The model loaded (npm start waits for /readyz); the edge's model list says so too.
  const deadline = Date.now() + 60_000
  for (;;) {
    const list = (await (await fetch(`${edgeUrl}/v1/models`)).json()) as { data: { ready: boolean }[] }
    if (list.data[0]?.ready || Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, 200))
  }
  const created = await fetch(`${edgeUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: 'playground-browser-test', plan: 'pro' }),
  })
  if (created.status !== 201) throw new Error(`POST /admin/keys answered ${created.status}: ${await created.text()}`)
  key = ((await created.json()) as { key: string }).key
}

afterAll(async () => {
  await browser?.close()
  await stack?.stop()
}, 60_000)

/** What a page did that it must not: console errors (beyond the intended statuses' own lines), page errors, requests elsewhere. */
interface Watch {
  consoleErrors: string[]
  pageErrors: string[]
  foreignRequests: string[]
  /** Statuses the test provokes on purpose: the browser logs "Failed to load resource … status of N" for each. */
  intended: Set<number>
}

function watch(page: Page): Watch {
  const seen: Watch = { consoleErrors: [], pageErrors: [], foreignRequests: [], intended: new Set() }
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    const status = /^Failed to load resource: the server responded with a status of (\d{3})\b/.exec(message.text())?.[1]
    if (status !== undefined && seen.intended.has(Number(status))) return
    seen.consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => seen.pageErrors.push(String(error)))
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== edgeUrl) seen.foreignRequests.push(request.url())
  })
  return seen
}

function expectClean(seen: Watch): void {
  expect(seen.consoleErrors).toEqual([])
  expect(seen.pageErrors).toEqual([])
  expect(seen.foreignRequests).toEqual([])
}

async function newPage(options: { viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page; seen: Watch }> {
  if (!browser) throw browserError ?? new Error('no browser')
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: edgeUrl })
  const page = await context.newPage()
  return { context, page, seen: watch(page) }
}

/** The playground, once it read the models and the OpenAPI document (the Size list is filled). */
async function openPlayground(page: Page): Promise<void> {
  await page.goto(`${edgeUrl}/playground`)
  await expect.poll(() => page.getByLabel('Size', { exact: true }).locator('option').count(), WAIT).toBeGreaterThan(0)
}

const field = (page: Page, name: string) => page.getByLabel(name, { exact: true })

/** Waits until every image in `selector` has loaded; their natural widths. */
async function loadedImages(page: Page, selector: string, count: number): Promise<number[]> {
  const images = page.locator(selector)
  await expect.poll(() => images.count(), { timeout: 60_000 }).toBe(count)
  await expect
    .poll(() => images.evaluateAll((nodes) => nodes.every((n) => (n as HTMLImageElement).complete && (n as HTMLImageElement).naturalWidth > 0)), { timeout: 30_000 })
    .toBe(true)
  return images.evaluateAll((nodes) => nodes.map((n) => (n as HTMLImageElement).naturalWidth))
}

const CAPTION = /^seed (\d{1,20}) · (HIT|MISS|COALESCED) · (\d+) ms$/

describe('the stack serves the pages', () => {
  it('prints the playground URL at start', () => {
    expect(stack!.output).toContain(`playground: ${edgeUrl}/playground`)
  })

  it('answers / with a landing page that links to the playground and the docs', async () => {
    const response = await fetch(`${edgeUrl}/`)
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain('href="/playground"')
    expect(html).toContain('href="/docs"')
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
  })

  it('serves an /openapi.json that @readme/openapi-parser validates (OpenAPI 3.1.0)', async () => {
    const doc = (await (await fetch(`${edgeUrl}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> }
    expect(doc.openapi).toBe('3.1.0')
    const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0])
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true)
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/images/generations', '/v1/images/{file}', '/v1/models', '/v1/models/{id}', '/v1/usage', '/admin/keys', '/admin/keys/{id}']))
  })
})

describe('the playground in Chromium', () => {
  // Each run has a fresh state folder (no cache from earlier runs), so the README's picture is the same every run.
  const prompt = 'a red circle and a blue square'
  const compareSeed = '7'
  const negative = 'blue square'
  let compared: { seed: string; withNegativeUrl: string } | undefined

  it('generates with a pasted key: an image that loads, its caption, the seed shown', async () => {
    const { context, page, seen } = await newPage()
    try {
      await openPlayground(page)
      expect(await field(page, 'Remember').isChecked()).toBe(false)
      expect(await field(page, 'Lock seed').isChecked()).toBe(false)
      expect(await field(page, 'Number of images').inputValue()).toBe('1')
      expect(await field(page, 'Number of images').getAttribute('min')).toBe('1')
      expect(await field(page, 'Number of images').getAttribute('max')).toBe('4')
      expect(await field(page, 'Size').locator('option').allTextContents()).toEqual(['32x32'])
      expect(await field(page, 'Guidance').locator('option').allTextContents()).toEqual(['nasa', 'nag', 'cfg', 'none'])
      const models = (await (await fetch(`${edgeUrl}/v1/models`)).json()) as { data: { default_nasa_alpha: number }[] }
      expect(await field(page, 'Guidance α').inputValue()).toBe(String(models.data[0]!.default_nasa_alpha))

      await field(page, 'API key').fill(key)
      await field(page, 'Prompt').fill(prompt)
      await field(page, 'Negative prompt').fill(negative)
      await page.getByRole('button', { name: 'Generate', exact: true }).click()
      expect(await loadedImages(page, '#results img', 1)).toEqual([32])
      const image = page.locator('#results img')
      expect(await image.getAttribute('alt')).toBe(prompt)
      expect(await image.getAttribute('src')).toMatch(new RegExp(`^${edgeUrl}/v1/images/[0-9a-f]{32}\\.png$`))
      // Small images are enlarged by a whole factor, without smoothing, and their real size is stated.
      expect(await image.evaluate((img) => [getComputedStyle(img).imageRendering, img.getAttribute('width'), img.getAttribute('height')])).toEqual(['pixelated', '256', '256'])
      expect(await page.locator('#results figcaption .size').textContent()).toBe('32 × 32 px, shown 8× larger')
      const caption = (await page.locator('#results figcaption .meta').textContent()) ?? ''
      const [, seed, cache] = CAPTION.exec(caption) ?? []
      expect(caption).toMatch(CAPTION)
      expect(cache).toBe('MISS')
      // Unlocked: the field shows the answer's seed.
      expect(await field(page, 'Seed').inputValue()).toBe(seed)
      expect(await page.getByRole('alert').textContent()).toBe('')
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('compares: one seed, without and with the negative prompt, side by side; the code of the one with it', async () => {
    const { context, page, seen } = await newPage()
    try {
      await openPlayground(page)
      await field(page, 'API key').fill(key)
      await field(page, 'Prompt').fill(prompt)
      await field(page, 'Negative prompt').fill(negative)
      // Unlocked, Compare takes the seed the field shows (else a random one: see the phone test).
      await field(page, 'Seed').fill(compareSeed)
      await page.getByRole('button', { name: 'Compare', exact: true }).click()
      expect(await loadedImages(page, '#results .compare img', 2)).toEqual([32, 32])
      const images = page.locator('#results .compare img')
      expect(await images.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('alt')))).toEqual([prompt, `${prompt} \u2212 ${negative}`])
      const captions = await page.locator('#results .compare figcaption .meta').allTextContents()
      const seeds = captions.map((caption) => CAPTION.exec(caption)?.[1])
      expect(seeds).toEqual([compareSeed, compareSeed])
      expect(await field(page, 'Seed').inputValue()).toBe(seeds[0])
      const [left, right] = [await images.nth(0).boundingBox(), await images.nth(1).boundingBox()]
      expect(right!.y).toBe(left!.y)
      expect(right!.x).toBeGreaterThan(left!.x + left!.width)
      const urls = await images.evaluateAll((nodes) => nodes.map((n) => (n as HTMLImageElement).src))
      expect(urls[0]).not.toBe(urls[1])
      compared = { seed: seeds[0]!, withNegativeUrl: urls[1]! }

      // The README's screenshot: the comparison.
      expect(await page.locator('#results .compare-title').textContent()).toBe(`“${prompt}” · seed ${compareSeed} · nasa`)
      mkdirSync(dirname(SCREENSHOT), { recursive: true })
      await page.locator('section.results').screenshot({ path: SCREENSHOT })

      // curl: the request with the negative prompt, the key from the environment; run, it answers the same image.
      const code = page.locator('#code-text')
      const curl = (await code.textContent()) ?? ''
      expect(curl).toContain('$SNOOPI_API_KEY')
      expect(curl).not.toContain(key)
      expect(curl).toContain(`${edgeUrl}/v1/images/generations`)
      expect(curl).toContain(`"negative_prompt": "${negative}"`)
      expect(curl).toContain(`"seed": "${compared.seed}"`)
      const ran = spawnSync('bash', ['-c', curl], { env: { ...process.env, SNOOPI_API_KEY: key }, encoding: 'utf8', timeout: 60_000 })
      expect(ran.status, ran.stderr).toBe(0)
      const answer = JSON.parse(ran.stdout) as { data: { url: string; seed: string }[] }
      expect(answer.data[0]!.url).toBe(compared.withNegativeUrl)
      expect(answer.data[0]!.seed).toBe(compared.seed)

      // Copy copies the shown tab.
      await page.getByRole('button', { name: 'Copy', exact: true }).click()
      await expect.poll(() => page.locator('#copy-status').textContent(), WAIT).toBe('Copied.')
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(curl)

      // JavaScript (the openai package), run here with the project's openai: the same image.
      await page.getByRole('tab', { name: 'JavaScript' }).click()
      const javascript = (await code.textContent()) ?? ''
      expect(javascript).toContain("import OpenAI from 'openai'")
      expect(javascript).toContain('process.env.SNOOPI_API_KEY')
      expect(javascript).not.toContain(key)
      const node = spawnSync(process.execPath, ['--input-type=module', '-e', javascript], { cwd: root, env: { ...process.env, SNOOPI_API_KEY: key }, encoding: 'utf8', timeout: 60_000 })
      expect(node.status, node.stderr).toBe(0)
      expect(node.stdout.trim()).toBe(compared.withNegativeUrl)

      // Python (openai, our fields through extra_body): at least valid Python, where python3 exists.
      await page.getByRole('tab', { name: 'Python' }).click()
      const python = (await code.textContent()) ?? ''
      expect(python).toContain('from openai import OpenAI')
      expect(python).toContain('os.environ["SNOOPI_API_KEY"]')
      expect(python).toMatch(/extra_body=\{\n\s+"negative_prompt": "blue square",\n\s+"seed": "\d+",\n\s+"guidance": \{/)
      expect(python).not.toContain(key)
      const parsed = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: python, encoding: 'utf8' })
      if (parsed.error === undefined) expect(parsed.status, parsed.stderr).toBe(0)
      await page.getByRole('button', { name: 'Copy', exact: true }).click()
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), WAIT).toBe(python)
      // Arrow keys move between the tabs.
      await page.getByRole('tab', { name: 'Python' }).focus()
      await page.keyboard.press('ArrowLeft')
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('JavaScript')
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('keeps the key only when Remember is ticked, and the history (never the key) across a reload', async () => {
    const { context, page, seen } = await newPage()
    const stored = () => page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookies: document.cookie }))
    try {
      await openPlayground(page)
      await field(page, 'API key').fill(key)
      await field(page, 'Prompt').fill(`${prompt}, again`)
      await field(page, 'Negative prompt').fill(negative)
      // Ctrl+Enter generates.
      await field(page, 'Prompt').press('Control+Enter')
      await loadedImages(page, '#results img', 1)
      await page.getByRole('button', { name: 'Compare', exact: true }).click()
      await loadedImages(page, '#results .compare img', 2)
      expect(await stored()).not.toContain(key)
      await page.reload()
      await expect.poll(() => page.locator('#history li').count(), WAIT).toBe(2)
      const history = await page.locator('#history li').allTextContents()
      expect(history[0]).toContain(`Compare: “${prompt}, again” − “${negative}”`)
      expect(history[1]).toContain(`Generate: “${prompt}, again” − “${negative}”`)
      expect(history[1]).toMatch(/ · seed \d+ · MISS · \d+ ms/)
      expect(await field(page, 'API key').inputValue()).toBe('')
      expect(await stored()).not.toContain(key)

      await field(page, 'API key').fill(key)
      await field(page, 'Remember').check()
      expect(await page.evaluate(() => localStorage.getItem('snoopi-playground-key'))).toBe(key)
      await page.reload()
      await openPlayground(page)
      expect(await field(page, 'API key').inputValue()).toBe(key)
      expect(await field(page, 'Remember').isChecked()).toBe(true)
      await field(page, 'Remember').uncheck()
      expect(await stored()).not.toContain(key)
      await page.reload()
      expect(await field(page, 'API key').inputValue()).toBe('')
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('sends a locked 64-bit seed as typed, digit for digit', async () => {
    const { context, page, seen } = await newPage()
    try {
      await openPlayground(page)
      await field(page, 'API key').fill(key)
      await field(page, 'Prompt').fill(`${prompt}, the largest seed`)
      await field(page, 'Seed').fill('18446744073709551615')
      await field(page, 'Lock seed').check()
      await page.getByRole('button', { name: 'Generate', exact: true }).click()
      await loadedImages(page, '#results img', 1)
      expect(await page.locator('#results figcaption .meta').textContent()).toMatch(/^seed 18446744073709551615 · MISS · \d+ ms$/)
      expect(await field(page, 'Seed').inputValue()).toBe('18446744073709551615')
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('shows the API\'s errors in the alert region: a bad key\'s 401, a 429 and a 503 with their retry time', async () => {
    const { context, page, seen } = await newPage()
    try {
      await openPlayground(page)
      const badKey = `snp_live_${'0'.repeat(38)}`
      const expected = (await (
        await fetch(`${edgeUrl}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${badKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) })
      ).json()) as { error: { message: string } }
      seen.intended.add(401)
      await field(page, 'API key').fill(badKey)
      await page.getByRole('button', { name: 'Generate', exact: true }).click()
      await expect.poll(() => page.getByRole('alert').textContent(), WAIT).toBe(`401: ${expected.error.message}`)

      // The statuses a newcomer rarely meets, answered by the browser test in the API's shape.
      seen.intended.add(429).add(503)
      const answers = [
        { status: 429, retryAfter: '7', message: 'Too many concurrent requests for this API key. Wait for one to finish, then retry.' },
        { status: 503, retryAfter: '5', message: 'the image service is unavailable, try again shortly' },
      ]
      for (const { status, retryAfter, message } of answers) {
        await page.route('**/v1/images/generations', (route) =>
          route.fulfill({ status, headers: { 'content-type': 'application/json', 'retry-after': retryAfter }, body: JSON.stringify({ error: { type: 'rate_limit_error', code: 'x', message } }) }),
        )
        await field(page, 'API key').fill(key)
        await page.getByRole('button', { name: 'Generate', exact: true }).click()
        await expect.poll(() => page.getByRole('alert').textContent(), WAIT).toBe(`${status}: ${message} (retry after ${retryAfter} s)`)
        await page.unroute('**/v1/images/generations')
      }
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('follows the reading order with Tab, with a visible focus outline', async () => {
    const { context, page, seen } = await newPage()
    try {
      await openPlayground(page)
      await field(page, 'API key').focus()
      const order: string[] = []
      for (let i = 0; i < 14; i++) {
        const focused = await page.evaluate(() => {
          const el = document.activeElement as HTMLInputElement
          const name = el.labels?.[0]?.textContent?.trim() ?? el.textContent?.trim() ?? ''
          const style = getComputedStyle(el)
          return { name, outline: `${style.outlineStyle} ${style.outlineWidth}` }
        })
        order.push(focused.name)
        expect(focused.outline, focused.name).toBe('solid 3px')
        await page.keyboard.press('Tab')
      }
      const jobs = (await page.locator('#job-field').isVisible()) ? ['Submit as a job'] : []
      const expected = ['API key', 'Remember', 'Prompt', 'Negative prompt', 'Seed', 'Lock seed', 'Number of images', 'Size', 'Guidance', 'Guidance α', ...jobs, 'Generate', 'Compare']
      expect(order.slice(0, expected.length)).toEqual(expected)
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('fits a 390 × 844 phone: nothing scrolls sideways, the comparison stacks', async () => {
    const { context, page, seen } = await newPage({ viewport: { width: 390, height: 844 } })
    const sideways = () => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth || document.body.scrollWidth > window.innerWidth)
    try {
      for (const path of ['/', '/docs']) {
        await page.goto(`${edgeUrl}${path}`)
        if (path === '/docs') await page.locator('#docs:not([aria-busy])').waitFor()
        expect(await sideways(), path).toBe(false)
      }
      await openPlayground(page)
      expect(await page.locator('meta[name="viewport"]').getAttribute('content')).toBe('width=device-width, initial-scale=1')
      expect(await sideways()).toBe(false)
      await field(page, 'API key').fill(key)
      await field(page, 'Prompt').fill(prompt)
      await field(page, 'Negative prompt').fill(negative)
      await page.getByRole('button', { name: 'Compare', exact: true }).click()
      await loadedImages(page, '#results .compare img', 2)
      const images = page.locator('#results .compare img')
      const [first, second] = [await images.nth(0).boundingBox(), await images.nth(1).boundingBox()]
      expect(second!.y).toBeGreaterThan(first!.y + first!.height)
      // No seed in the field: one random 64-bit seed for both.
      const seeds = (await page.locator('#results .compare figcaption .meta').allTextContents()).map((caption) => CAPTION.exec(caption)?.[1])
      expect(seeds[0]).toMatch(/^\d{1,20}$/)
      expect(seeds[1]).toBe(seeds[0])
      expect(await field(page, 'Seed').inputValue()).toBe(seeds[0])
      await page.locator('#code-text').waitFor()
      expect(await sideways()).toBe(false)
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('submits as a job when the API has jobs, and shows its status as it moves queued → running → succeeded', async () => {
    const doc = (await (await fetch(`${edgeUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    const { context, page, seen } = await newPage()
    try {
      await openPlayground(page)
      expect(await page.locator('#job-field').isVisible()).toBe(Boolean(doc.paths['/v1/jobs']?.post))
      if (!doc.paths['/v1/jobs']?.post) return
      await field(page, 'API key').fill(key)
      await field(page, 'Prompt').fill(`${prompt}, as a job`)
      await field(page, 'Negative prompt').fill(negative)
      await field(page, 'Submit as a job').check()
      const statuses: string[] = []
      page.on('response', (response) => {
        if (new URL(response.url()).pathname.startsWith('/v1/jobs')) void response.json().then((job: { status: string }) => statuses.push(job.status))
      })
      await page.getByRole('button', { name: 'Generate', exact: true }).click()
      expect(await loadedImages(page, '#results img', 1)).toEqual([32])
      const line = (await page.locator('#status .job-status').textContent()) ?? ''
      expect(line).toMatch(/^job_[0-9a-zA-Z]+: queued( → running)? → succeeded$/)
      // What the page showed is what the API said, in order, without repeats.
      expect(line.split(': ')[1]!.split(' → ')).toEqual(statuses.filter((status, i) => status !== statuses[i - 1]))
      expect(await page.locator('#results figcaption .meta').textContent()).toMatch(/^seed \d+ · MISS · \d+ ms$/)
      expectClean(seen)
    } finally {
      await context.close()
    }
  })

  it('renders /docs from the bundled files: every operation of /openapi.json, nothing from elsewhere', async () => {
    const { context, page, seen } = await newPage()
    try {
      await page.goto(`${edgeUrl}/docs`)
      await page.locator('#docs:not([aria-busy])').waitFor()
      const doc = (await (await fetch(`${edgeUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
      const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()}${path}`))
      const headings = await page.locator('section.operation h2').evaluateAll((nodes) => nodes.map((n) => `${n.querySelector('.method')?.textContent}${n.querySelector('code')?.textContent}`))
      expect(headings.sort()).toEqual(operations.sort())
      expect(await page.getByRole('heading', { name: /POST\s*\/v1\/images\/generations/ }).count()).toBe(1)
      expect(await page.locator('#docs').textContent()).toContain('x-request-id')
      expect(await page.locator('#docs').textContent()).toContain('Retry-After')
      expectClean(seen)
    } finally {
      await context.close()
    }
  })
})
