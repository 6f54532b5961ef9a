import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generationRequestSchema, type GenerationRequest } from '../api/generation-schema.ts'
import { ApiError } from '../errors/api-error.ts'
import { canonicalJson, canonicalRequest, type CanonicalModel } from './canonical-request.ts'
import { requestHash } from './request-keys.ts'

const secret = 'test-cache-key-secret-0123456789abcdef01'
const model: CanonicalModel = { id: 'snoopi-default', version: 'test-v1', sizes: ['64x64', '128x128'] }

/** A request as the route sees it: through the real schema, so its defaults are filled. */
function body(fields: Record<string, unknown>): GenerationRequest {
  return generationRequestSchema.parse({ prompt: 'a red circle', ...fields })
}

function canonical(fields: Record<string, unknown>, forModel: CanonicalModel = model) {
  return canonicalRequest(body(fields), forModel)
}

async function hashOf(fields: Record<string, unknown>, forModel: CanonicalModel = model): Promise<string> {
  return requestHash(secret, canonical(fields, forModel))
}

function apiError(run: () => unknown): ApiError {
  try {
    run()
  } catch (error) {
    if (error instanceof ApiError) return error
    throw error
  }
  throw new Error('expected an ApiError')
}

describe('canonicalRequest', () => {
  it('fills every default and leaves out what does not change the image', () => {
    expect(canonical({ response_format: 'b64_json', user: 'u-1', quality: 'hd', style: 'vivid' })).toEqual({
      model: 'snoopi-default',
      version: 'test-v1',
      prompt: 'a red circle',
      n: 1,
      size: '64x64',
      output_format: 'png',
    })
  })

  it('writes deterministic JSON with sorted keys and no undefined members', () => {
    const json = canonicalJson(canonical({ negative_prompt: 'blue', seed: 7, n: 2 }))
    expect(json).toBe(
      '{"guidance":{"mode":"nasa"},"model":"snoopi-default","n":2,"negative_prompt":"blue","output_format":"png","prompt":"a red circle","seed":"7","size":"64x64","version":"test-v1"}',
    )
    expect(canonicalJson({ ...canonical({}), seed: undefined })).toBe(canonicalJson(canonical({})))
  })

  it.each([
    ['NFC vs NFD', { prompt: 'caf\u00e9 au lait' }, { prompt: 'cafe\u0301 au lait' }],
    ['whitespace', { prompt: 'a red circle' }, { prompt: '  a \t red\n\ncircle ' }],
    ['negative prompt whitespace', { negative_prompt: 'blue  square' }, { negative_prompt: ' blue\u3000square\n' }],
    ['empty negative prompt vs none', { negative_prompt: ' \n ' }, {}],
    ['an invisible-only negative prompt (U+FEFF) vs none', { negative_prompt: '\ufeff\u200b' }, {}],
    ['invisible characters in the prompt', { prompt: '\ufeffa red\u200b circle' }, {}],
    ['guidance without a negative prompt', { guidance: { mode: 'nag', scale: 7 } }, {}],
    ['guidance mode none vs no negative prompt', { negative_prompt: 'blue', guidance: { mode: 'none' } }, {}],
    ['explicit defaults', { n: 1, size: '64x64', output_format: 'png' }, {}],
    ['default guidance mode', { negative_prompt: 'blue', guidance: {} }, { negative_prompt: 'blue', guidance: { mode: 'nasa' } }],
    ['NAG defaults', { negative_prompt: 'blue', guidance: { mode: 'nag' } }, { negative_prompt: 'blue', guidance: { mode: 'nag', scale: 5, tau: 2.5, alpha: 0.25 } }],
    ['CFG default', { negative_prompt: 'blue', guidance: { mode: 'cfg' } }, { negative_prompt: 'blue', guidance: { mode: 'cfg', scale: 2 } }],
    ['NASA ignores NAG fields', { negative_prompt: 'blue', guidance: { mode: 'nasa', tau: 3 } }, { negative_prompt: 'blue' }],
    ['seed as number or string', { seed: 42 }, { seed: '0042' }],
    ['response_format and user', { response_format: 'b64_json', user: 'alice' }, { response_format: 'url' }],
  ])('gives the same canonical JSON and hash for: %s', async (_name, a, b) => {
    expect(canonicalJson(canonical(a))).toBe(canonicalJson(canonical(b)))
    expect(await hashOf(a)).toBe(await hashOf(b))
  })

  it.each([
    ['n', { n: 2 }],
    ['size', { size: '128x128' }],
    ['seed', { seed: 1 }],
    ['output format', { output_format: 'webp' }],
    ['negative prompt', { negative_prompt: 'blue square' }],
    ['guidance mode', { negative_prompt: 'blue square', guidance: { mode: 'nag' } }],
    ['NASA alpha', { negative_prompt: 'blue square', guidance: { mode: 'nasa', alpha: 0.5 } }],
    ['NASA projection on', { negative_prompt: 'blue square', guidance: { mode: 'nasa', projection: true } }],
    ['NASA projection off', { negative_prompt: 'blue square', guidance: { mode: 'nasa', projection: false } }],
    ['prompt case', { prompt: 'A red circle' }],
  ])('gives a different hash when the %s differs', async (_name, fields) => {
    expect(await hashOf(fields)).not.toBe(await hashOf({}))
  })

  it('gives a different hash for another model version or id', async () => {
    const base = await hashOf({})
    expect(await hashOf({}, { ...model, version: 'test-v2' })).not.toBe(base)
    expect(await hashOf({}, { ...model, id: 'other-model' })).not.toBe(base)
  })

  it('gives a different hash for another secret', async () => {
    const c = canonical({})
    expect(await requestHash(secret, c)).not.toBe(await requestHash(`${secret}x`, c))
    expect(await requestHash(secret, c)).toMatch(/^[0-9a-f]{64}$/)
  })

  it.each([
    ['a prompt of only whitespace', { prompt: ' \u3000\n' }, 'empty_prompt'],
    ['a prompt of only U+FEFF', { prompt: '\ufeff' }, 'empty_prompt'],
    ['a size the model does not offer', { size: '512x512' }, 'invalid_size'],
    ['a seed above 2^64 - 1', { seed: '18446744073709551616' }, 'invalid_seed'],
    ['a batch running past 2^64 - 1', { seed: '18446744073709551615', n: 2 }, 'invalid_seed'],
    ['a NAG alpha above 1', { negative_prompt: 'blue', guidance: { mode: 'nag', alpha: 1.5 } }, 'invalid_guidance'],
    ['a projection with NAG', { negative_prompt: 'blue', guidance: { mode: 'nag', projection: true } }, 'invalid_guidance'],
  ])('rejects %s with a 400', (_name, fields, code) => {
    const error = apiError(() => canonical(fields))
    expect(error.status).toBe(400)
    expect(error.code).toBe(code)
  })

  it('accepts the largest seed that fits the batch', () => {
    expect(canonical({ seed: '18446744073709551614', n: 2 }).seed).toBe('18446744073709551614')
  })
})

describe('canonicalRequest properties', () => {
  const word = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((w) => !/\p{White_Space}/u.test(w))
  const whitespace = fc.string({
    unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2003', '\u3000', '\u0085', '\u2028'),
    minLength: 1,
    maxLength: 4,
  })
  const words = fc.array(word, { minLength: 1, maxLength: 8 })

  it('is idempotent: canonicalising the canonical prompts changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), (prompt, negative) => {
        fc.pre(!/^\p{White_Space}*$/u.test(prompt))
        const once = canonical({ prompt, negative_prompt: negative })
        const twice = canonical({ prompt: once.prompt, negative_prompt: once.negative_prompt })
        expect(canonicalJson(twice)).toBe(canonicalJson(once))
      }),
    )
  })

  it('does not depend on the whitespace between, before or after words', () => {
    fc.assert(
      fc.property(words, fc.array(whitespace, { minLength: 9, maxLength: 9 }), (ws, gaps) => {
        const plain = ws.join(' ')
        const spaced = (gaps[8] as string) + ws.map((w, i) => w + (gaps[i] as string)).join('')
        expect(canonicalJson(canonical({ prompt: spaced }))).toBe(canonicalJson(canonical({ prompt: plain })))
      }),
    )
  })
})
