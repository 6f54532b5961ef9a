import { generateBodySchema } from '@snoopi/gpu-service/contract/generate-body'
import { MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS } from '@snoopi/gpu-service/contract/limits'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalRequest } from '../cache/canonical-request.ts'
import { imageSeeds } from '../cache/request-seed.ts'
import { ApiError } from '../errors/api-error.ts'
import { generateBodyFor } from '../upstream/generated-images.ts'
import { generationRequestSchema } from './generation-schema.ts'

const model = { id: 'snoopi-default', version: 'test-v1', sizes: ['64x64', '128x128'] }
const hash = 'ab'.repeat(32)

/** Numbers biased to the edges of every contract range, and a little past them. */
const edgy = (points: number[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...points) }, { weight: 1, arbitrary: fc.double({ min: -1, max: 25, noNaN: true }) })

/** Every public request the edge admits, turned into the GPU body the edge would send. */
function upstreamOf(body: unknown): unknown {
  const parsed = generationRequestSchema.safeParse(body)
  if (!parsed.success) return undefined
  let canonical
  try {
    canonical = canonicalRequest(parsed.data, model)
    return generateBodyFor(canonical, imageSeeds(canonical, hash)[0] as bigint, 30_000)
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return undefined // the edge refuses it itself
    throw error
  }
}

describe('the edge admits nothing the contract refuses', () => {
  it('every body the public schema and the canonical request accept is a valid /internal/generate body (property)', () => {
    let admitted = 0
    fc.assert(
      fc.property(
        fc.record(
          {
            prompt: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('x'.repeat(MAX_PROMPT_CHARS), ' \ufeff', 'a\u200bb')),
            negative_prompt: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('y'.repeat(MAX_PROMPT_CHARS))),
            n: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: MAX_IMAGES_PER_REQUEST }) }, { weight: 1, arbitrary: fc.constantFrom(0, MAX_IMAGES_PER_REQUEST + 1) }),
            size: fc.constantFrom('64x64', '128x128', '64x64', '512x512'),
            seed: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), fc.constantFrom('18446744073709551615', '18446744073709551616'), fc.nat()),
            guidance: fc.record(
              {
                mode: fc.constantFrom('nasa', 'nag', 'cfg', 'none'),
                alpha: edgy([0, 0.25, 1, 1.0001, 2, 2.0001]),
                scale: edgy([0.999, 1, 5, 20, 20.001]),
                tau: edgy([0.999, 1, 2.5, 10, 10.001]),
                projection: fc.boolean(),
              },
              { requiredKeys: [] },
            ),
            output_format: fc.constantFrom('png', 'webp', 'jpeg'),
          },
          { requiredKeys: ['prompt'] },
        ),
        (body) => {
          const upstream = upstreamOf(body)
          if (upstream === undefined) return
          admitted++
          const verdict = generateBodySchema.safeParse(upstream)
          expect(verdict.success, JSON.stringify({ body, issues: verdict.error?.issues })).toBe(true)
        },
      ),
      { numRuns: 2000 },
    )
    // The property means something only if many bodies got through.
    expect(admitted).toBeGreaterThan(200)
  })

  it('fails on purpose when the edge admits more than the contract: a NAG α of 1.5 the canonical request did not catch', () => {
    const canonical = canonicalRequest({ prompt: 'a cat', n: 1, response_format: 'url', output_format: 'png', negative_prompt: 'dog', guidance: { mode: 'nag' } }, model)
    const body = { ...generateBodyFor(canonical, 1n, 30_000), guidance: { mode: 'nag' as const, alpha: 1.5 } }
    expect(generateBodySchema.safeParse(body).success).toBe(false)
  })
})
