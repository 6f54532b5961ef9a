// The playground: one form, the API of this origin, nothing else. No framework, no build step, no
// innerHTML (the page runs under Trusted Types): every node is made with the DOM API.
import { SNIPPETS } from './playground-code.js'

const KEY_STORAGE = 'snoopi-playground-key'
const HISTORY_STORAGE = 'snoopi-playground-history'
const HISTORY_LENGTH = 20
const MAX_SEED = 2n ** 64n - 1n
/** Images smaller than this (CSS pixels) are shown enlarged by a whole factor. */
const ENLARGE_BELOW = 256
const JOB_POLL_MS = 400
const JOB_TIMEOUT_MS = 10 * 60_000

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
const form = {
  key: $('api-key'),
  remember: $('remember'),
  prompt: $('prompt'),
  negative: $('negative-prompt'),
  seed: $('seed'),
  lockSeed: $('lock-seed'),
  n: $('n'),
  size: $('size'),
  guidance: $('guidance'),
  alpha: $('alpha'),
  alphaHint: $('alpha-hint'),
  asJob: $('as-job'),
  jobField: $('job-field'),
  generate: $('generate'),
  compare: $('compare'),
}
const errorRegion = $('error')
const statusLine = $('status')
const results = $('results')
const codeText = $('code-text')
const copyButton = $('copy')
const copyStatus = $('copy-status')
const historyList = $('history')

/** What the page learnt from /v1/models and /openapi.json. */
const api = { model: null, guidanceModes: ['nasa', 'nag', 'cfg', 'none'], alpha: {}, jobs: false }
let busy = false
let lastCodeBody = null
let codeLanguage = 'curl'

/** Makes an element: `h('p', {className: 'x'}, 'text', child)`. Strings become text nodes. */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith('aria-') || name.startsWith('data-')) node.setAttribute(name, String(value))
    else node[name] = value
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

// ─── The key: in localStorage only while Remember is ticked ────────────────────────────────────────

function loadRememberedKey() {
  const saved = localStorage.getItem(KEY_STORAGE)
  if (saved !== null) {
    form.key.value = saved
    form.remember.checked = true
  }
}
form.remember.addEventListener('change', () => {
  if (form.remember.checked) localStorage.setItem(KEY_STORAGE, form.key.value)
  else localStorage.removeItem(KEY_STORAGE)
})
form.key.addEventListener('input', () => {
  if (form.remember.checked) localStorage.setItem(KEY_STORAGE, form.key.value)
})

// ─── What the API offers: sizes and α from the model card, the rest from the OpenAPI document ─────

function schemaOf(document, name) {
  return document?.components?.schemas?.[name] ?? {}
}

async function loadApi() {
  const [models, document] = await Promise.all([getJson('/v1/models'), getJson('/openapi.json')])
  const request = schemaOf(document, 'ImageGenerationRequest')
  const guidance = schemaOf(document, 'Guidance')
  const modes = guidance.properties?.mode?.enum
  if (Array.isArray(modes) && modes.length > 0) api.guidanceModes = modes
  const nMax = request.properties?.n?.maximum
  if (Number.isInteger(nMax)) form.n.max = String(nMax)
  api.alpha = guidance.properties?.alpha ?? {}
  api.jobs = Boolean(document?.paths?.['/v1/jobs']?.post)
  api.model = models.data?.[0] ?? null
  form.jobField.hidden = !api.jobs

  form.size.replaceChildren(...(api.model?.sizes ?? []).map((size) => h('option', { value: size }, size)))
  form.guidance.replaceChildren(...api.guidanceModes.map((mode) => h('option', { value: mode }, mode)))
  resetAlpha()
  if (!api.model) showError('no model is served (GET /v1/models is empty)')
}

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } })
  if (!response.ok) throw new Error(await errorText(response))
  return response.json()
}

/**
 * α's field follows the mode: NASA starts at the model card's α; NAG's starts empty (the API's
 * default); CFG and none take no α.
 */
function resetAlpha() {
  const mode = form.guidance.value
  form.alpha.disabled = mode !== 'nasa' && mode !== 'nag'
  if (typeof api.alpha.minimum === 'number') form.alpha.min = String(api.alpha.minimum)
  if (typeof api.alpha.maximum === 'number') form.alpha.max = String(api.alpha.maximum)
  if (mode === 'nasa') {
    const alpha = api.model?.default_nasa_alpha
    form.alpha.value = typeof alpha === 'number' ? String(alpha) : ''
    form.alphaHint.textContent = `NASA's strength; starts at the model's α${api.model?.default_nasa_projection ? ' (with projection)' : ''}.`
  } else if (mode === 'nag') {
    form.alpha.value = ''
    form.alphaHint.textContent = "NAG's α; empty: the API's default."
  } else {
    form.alpha.value = ''
    form.alphaHint.textContent = mode === 'cfg' ? 'CFG uses its scale, not α.' : 'The negative prompt is ignored.'
  }
}
form.guidance.addEventListener('change', resetAlpha)

// ─── The request ──────────────────────────────────────────────────────────────────────────────────

class InputError extends Error {}

/** A seed typed in the field, checked as a string (64-bit seeds never go through a JS number). */
function typedSeed() {
  const text = form.seed.value.trim()
  if (text === '') return null
  if (!/^\d{1,20}$/.test(text) || BigInt(text) > MAX_SEED) throw new InputError('Seed: a whole number from 0 to 18446744073709551615')
  return BigInt(text).toString()
}

function randomSeed() {
  return crypto.getRandomValues(new BigUint64Array(1))[0].toString()
}

/** The body the form describes; `seed` (a decimal string) when one must be sent. */
function requestBody({ seed, negative }) {
  const prompt = form.prompt.value
  if (prompt.trim() === '') throw new InputError('Prompt: type what the image should show')
  const n = Number(form.n.value)
  const nMax = Number(form.n.max)
  if (!Number.isInteger(n) || n < 1 || n > nMax) throw new InputError(`Number of images: 1 to ${nMax}`)
  const body = { prompt }
  if (api.model) body.model = api.model.id
  if (negative !== '') body.negative_prompt = negative
  body.n = n
  if (form.size.value) body.size = form.size.value
  if (seed !== null) body.seed = seed
  const guidance = { mode: form.guidance.value }
  if (!form.alpha.disabled && form.alpha.value !== '') {
    const alpha = Number(form.alpha.value)
    if (!Number.isFinite(alpha)) throw new InputError('Guidance α: a number')
    guidance.alpha = alpha
  }
  body.guidance = guidance
  return body
}

/** `<status>: <the API's message>`, with the wait when the API gives one (429, 503). */
async function errorText(response) {
  let message = response.statusText || 'request failed'
  try {
    const body = await response.json()
    if (typeof body?.error?.message === 'string') message = body.error.message
  } catch {
    // Not the API's JSON error: keep the status text.
  }
  const retryAfter = response.headers.get('retry-after')
  if (retryAfter !== null && !/retry after/i.test(message)) message += ` (retry after ${retryAfter} s)`
  return `${response.status}: ${message}`
}

class ApiFailure extends Error {}

function authHeaders() {
  // Sent as typed: no trimming, no rewriting.
  return { authorization: `Bearer ${form.key.value}`, 'content-type': 'application/json' }
}

async function send(method, path, body) {
  let response
  try {
    response = await fetch(path, { method, headers: authHeaders(), body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (error) {
    const reason = error instanceof TypeError && /header/i.test(error.message) ? 'the API key has characters that cannot be sent in a header' : error.message
    throw new ApiFailure(`network error: ${reason}`)
  }
  if (!response.ok) throw new ApiFailure(await errorText(response))
  return response
}

/** One generation: its images, its `x-cache` and how long it took (ms). */
async function generateOnce(body) {
  const started = performance.now()
  if (form.asJob.checked && api.jobs) return runJob(body, started)
  const response = await send('POST', '/v1/images/generations', body)
  const answer = await response.json()
  return { images: answer.data ?? [], cache: response.headers.get('x-cache') ?? '—', ms: Math.round(performance.now() - started) }
}

/** `POST /v1/jobs`, then the job until it has finished; its status is shown as it moves. */
async function runJob(body, started) {
  const response = await send('POST', '/v1/jobs', body)
  let job = await response.json()
  const seen = [job.status]
  const show = () => {
    statusLine.replaceChildren('job ', h('span', { className: 'job-status' }, `${job.id}: ${seen.join(' → ')}`))
  }
  show()
  const self = `/v1/jobs/${encodeURIComponent(job.id)}`
  while (!['succeeded', 'failed', 'canceled'].includes(job.status)) {
    if (performance.now() - started > JOB_TIMEOUT_MS) throw new ApiFailure(`the job ${job.id} has not finished after ${JOB_TIMEOUT_MS / 60_000} minutes`)
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS))
    job = await (await send('GET', self)).json()
    if (job.status !== seen.at(-1)) seen.push(job.status)
    show()
  }
  if (job.status !== 'succeeded') throw new ApiFailure(`job ${job.status}: ${job.error?.message ?? 'no images'}`)
  return { images: job.data ?? [], cache: job.cache ?? '—', ms: Math.round(performance.now() - started) }
}

// ─── What the page shows ──────────────────────────────────────────────────────────────────────────

function showError(text) {
  errorRegion.textContent = text
}

/** One image: the alt text, `seed … · x-cache · … ms`, and its real size (small ones enlarged, unsmoothed). */
function figure(image, alt, outcome) {
  const img = h('img', { alt, decoding: 'async' })
  const size = h('span', { className: 'size' })
  img.addEventListener('load', () => {
    const factor = Math.max(1, Math.floor(ENLARGE_BELOW / Math.max(img.naturalWidth, img.naturalHeight, 1)))
    img.width = img.naturalWidth * factor
    img.height = img.naturalHeight * factor
    size.textContent = `${img.naturalWidth} × ${img.naturalHeight} px${factor > 1 ? `, shown ${factor}× larger` : ''}`
  })
  img.addEventListener('error', () => (size.textContent = 'the image did not load'))
  img.src = image.url ?? `data:image/png;base64,${image.b64_json}`
  const meta = h('span', { className: 'meta' }, `seed ${image.seed} · ${outcome.cache} · ${outcome.ms} ms`)
  return h('figure', {}, img, h('figcaption', {}, meta, size))
}

function images(outcome, alt) {
  return h('div', { className: 'images' }, ...outcome.images.map((image) => figure(image, alt, outcome)))
}

/** Unlocked, the field shows the seed the API used (as the string it sent). */
function showSeed(seed) {
  if (!form.lockSeed.checked && typeof seed === 'string') form.seed.value = seed
}

function showCode() {
  if (!lastCodeBody) return
  codeText.textContent = SNIPPETS[codeLanguage](location.origin, lastCodeBody)
  copyButton.disabled = false
}

function selectTab(tab, focus) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab
    other.setAttribute('aria-selected', String(selected))
    other.tabIndex = selected ? 0 : -1
  }
  $('code-panel').setAttribute('aria-labelledby', tab.id)
  codeLanguage = tab.dataset.lang
  if (focus) tab.focus()
  copyStatus.textContent = ''
  showCode()
}
const tabs = [...document.querySelectorAll('[role="tab"]')]
for (const tab of tabs) {
  tab.addEventListener('click', () => selectTab(tab, false))
  tab.addEventListener('keydown', (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key]
    if (step === undefined) return
    event.preventDefault()
    selectTab(tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length], true)
  })
}
copyButton.addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(codeText.textContent)
    copyStatus.textContent = 'Copied.'
  } catch {
    getSelection()?.selectAllChildren(codeText)
    copyStatus.textContent = 'Copying was refused: the code is selected, press Ctrl+C.'
  }
})

// ─── History: this browser's last requests, never the key ─────────────────────────────────────────

function readHistory() {
  try {
    const entries = JSON.parse(localStorage.getItem(HISTORY_STORAGE) ?? '[]')
    return Array.isArray(entries) ? entries : []
  } catch {
    return []
  }
}

function remember(entry) {
  const entries = [entry, ...readHistory()].slice(0, HISTORY_LENGTH)
  localStorage.setItem(HISTORY_STORAGE, JSON.stringify(entries))
  renderHistory()
}

function renderHistory() {
  const entries = readHistory()
  historyList.replaceChildren(
    ...entries.map((entry) => {
      const body = entry.request ?? {}
      const what = `${entry.kind === 'compare' ? 'Compare' : 'Generate'}: “${body.prompt ?? ''}”${body.negative_prompt ? ` − “${body.negative_prompt}”` : ''}`
      const detail = entry.error
        ? h('span', { className: 'failed' }, ` ${entry.error}`)
        : ` · seed ${(entry.seeds ?? []).join(', ')} · ${entry.cache ?? ''} · ${entry.ms ?? ''} ms`
      const thumbs = h('span', { className: 'thumbs' }, ...(entry.urls ?? []).slice(0, 4).map((url) => h('img', { src: url, alt: '', width: 32, height: 32, loading: 'lazy' })))
      const reuse = h('button', { type: 'button' }, 'Reuse')
      reuse.setAttribute('aria-label', `Reuse ${what}`)
      reuse.addEventListener('click', () => restore(body))
      const time = h('time', { dateTime: entry.at ?? '' }, entry.at ? new Date(entry.at).toLocaleString() : '')
      return h('li', {}, time, ' ', what, detail, thumbs, reuse)
    }),
  )
  $('clear-history').hidden = entries.length === 0
}
$('clear-history').addEventListener('click', () => {
  localStorage.removeItem(HISTORY_STORAGE)
  renderHistory()
})

/** Puts a past request back in the form (its seed locked, when it had one). */
function restore(body) {
  form.prompt.value = body.prompt ?? ''
  form.negative.value = body.negative_prompt ?? ''
  if (body.n !== undefined) form.n.value = String(body.n)
  if (body.size && [...form.size.options].some((o) => o.value === body.size)) form.size.value = body.size
  if (body.guidance?.mode && api.guidanceModes.includes(body.guidance.mode)) {
    form.guidance.value = body.guidance.mode
    resetAlpha()
    if (body.guidance.alpha !== undefined) form.alpha.value = String(body.guidance.alpha)
  }
  form.lockSeed.checked = body.seed !== undefined
  form.seed.value = body.seed ?? ''
  form.prompt.focus()
}

// ─── Generate and Compare ─────────────────────────────────────────────────────────────────────────

/** Runs `work` unless a request is in flight; its failure goes to the alert region. */
async function exclusive(label, work) {
  if (busy) return
  busy = true
  for (const button of [form.generate, form.compare]) button.setAttribute('aria-disabled', 'true')
  results.setAttribute('aria-busy', 'true')
  showError('')
  statusLine.textContent = `${label}…`
  try {
    await work()
    if (!statusLine.textContent.startsWith('job ')) statusLine.textContent = ''
  } catch (error) {
    if (!(error instanceof InputError || error instanceof ApiFailure)) console.warn(error)
    showError(error.message)
    statusLine.textContent = ''
  } finally {
    busy = false
    for (const button of [form.generate, form.compare]) button.removeAttribute('aria-disabled')
    results.removeAttribute('aria-busy')
  }
}

function generate() {
  return exclusive('Generating', async () => {
    const negative = form.negative.value
    const body = requestBody({ seed: form.lockSeed.checked ? typedSeed() : null, negative })
    const entry = { at: new Date().toISOString(), kind: 'generate', request: body }
    try {
      const outcome = await generateOnce(body)
      results.replaceChildren(images(outcome, body.prompt))
      showSeed(outcome.images[0]?.seed)
      if (body.negative_prompt !== undefined) {
        lastCodeBody = body
        showCode()
      }
      remember({ ...entry, seeds: outcome.images.map((i) => i.seed), urls: outcome.images.map((i) => i.url).filter(Boolean), cache: outcome.cache, ms: outcome.ms })
    } catch (error) {
      if (error instanceof ApiFailure) remember({ ...entry, error: error.message })
      throw error
    }
  })
}

/**
 * The same body twice with one explicit seed (the field's, else a random one): without the negative
 * prompt, then with it, side by side.
 */
function compare() {
  return exclusive('Comparing', async () => {
    const negative = form.negative.value
    if (negative === '') throw new InputError('Negative prompt: Compare needs one')
    const seed = typedSeed() ?? randomSeed()
    const without = requestBody({ seed, negative: '' })
    const withNegative = requestBody({ seed, negative })
    const entry = { at: new Date().toISOString(), kind: 'compare', request: withNegative }
    try {
      const plain = await generateOnce(without)
      const negated = await generateOnce(withNegative)
      results.replaceChildren(
        h('p', { className: 'compare-title' }, `“${without.prompt}” · seed ${seed} · ${form.guidance.value}`),
        h(
          'div',
          { className: 'compare' },
          h('section', { className: 'answer', 'aria-label': 'Without the negative prompt' }, h('h3', {}, 'Without the negative prompt'), images(plain, without.prompt)),
          h(
            'section',
            { className: 'answer', 'aria-label': 'With the negative prompt' },
            h('h3', {}, `With “${negative}” as the negative prompt`),
            images(negated, `${withNegative.prompt} \u2212 ${negative}`),
          ),
        ),
      )
      if (!form.lockSeed.checked) form.seed.value = seed
      lastCodeBody = withNegative
      showCode()
      remember({ ...entry, seeds: negated.images.map((i) => i.seed), urls: [...plain.images, ...negated.images].map((i) => i.url).filter(Boolean), cache: `${plain.cache}/${negated.cache}`, ms: plain.ms + negated.ms })
    } catch (error) {
      if (error instanceof ApiFailure) remember({ ...entry, error: error.message })
      throw error
    }
  })
}

form.generate.addEventListener('click', () => void generate())
form.compare.addEventListener('click', () => void compare())
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault()
    void generate()
  }
})

loadRememberedKey()
renderHistory()
loadApi().catch((error) => showError(`the playground could not read the API: ${error.message}`))
