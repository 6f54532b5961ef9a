import { describe, expect, it } from 'vitest'
import { normalizePrompt } from './normalize-prompt.ts'

describe('normalizePrompt', () => {
  it.each([
    ['NFD → NFC', 'cafe\u0301', 'caf\u00e9'],
    ['runs of spaces, tabs and newlines', 'a  red\t\tcircle\r\n\nand\u000b\u000ca square', 'a red circle and a square'],
    ['trims the ends', '  \n a cat \t ', 'a cat'],
    ['NBSP, ideographic space, NEL, line separator', 'a\u00a0b\u3000c\u0085d\u2028e', 'a b c d e'],
    ['keeps case', 'A Photo of NYC', 'A Photo of NYC'],
    ['keeps U+FEFF (not White_Space, although String#trim strips it)', '\ufeffa', '\ufeffa'],
    ['keeps zero-width space (not White_Space)', 'a\u200bb', 'a\u200bb'],
    ['keeps HTML entities and punctuation', 'a &amp; b!', 'a &amp; b!'],
    ['only whitespace → empty', ' \t\n\u3000', ''],
  ])('%s', (_name, input, expected) => {
    expect(normalizePrompt(input)).toBe(expected)
  })
})
