import { describe, expect, it } from 'vitest'
import { htmlUnescape } from './html-unescape.ts'

describe('htmlUnescape (Python html.unescape)', () => {
  // Expected values are Python 3's html.unescape output for the same input.
  it.each([
    ['&amp;', '&'],
    ['&amp;amp;', '&amp;'],
    ['&lt;b&gt;', '<b>'],
    ['&quot;hi&quot;', '"hi"'],
    ['&apos;', "'"],
    ['&#39;', "'"],
    ['&#x27;', "'"],
    ['&#X27', "'"],
    ['&#65;&#x42;&#67', 'ABC'],
    ['&nbsp;', '\u00a0'],
    ['&nbsp', '\u00a0'],
    ['&amp', '&'],
    ['&ampx', '&x'],
    ['&copy2024', '©2024'],
    ['&AMP;', '&'],
    ['&Amp;', '&Amp;'],
    ['&hellip;', '…'],
    ['&hellip', '&hellip'],
    ['&mdash;', '—'],
    ['&eacute;t&eacute;', 'été'],
    ['&unknown;', '&unknown;'],
    ['a & b', 'a & b'],
    ['&', '&'],
    ['&#;', '&#;'],
    ['&#x;', '&#x;'],
    ['&#128;', '€'],
    ['&#150;', '–'],
    ['&#0;', '\ufffd'],
    ['&#xD800;', '\ufffd'],
    ['&#x110000;', '\ufffd'],
    [`&#${'9'.repeat(40)};`, '\ufffd'],
    ['&#1;', ''],
    ['&#xFFFE;', ''],
    ['&#x1F600;', '😀'],
    ['no entities', 'no entities'],
  ])('%j → %j', (input, output) => {
    expect(htmlUnescape(input)).toBe(output)
  })

  it('unescapes once per call; CLIP calls it twice', () => {
    expect(htmlUnescape(htmlUnescape('&amp;lt;3'))).toBe('<3')
  })
})
