import { describe, expect, it } from 'vitest'
import { normalizePrompt } from './normalize-prompt.ts'

describe('normalizePrompt', () => {
  it.each([
    ['NFD → NFC', 'cafe\u0301', 'caf\u00e9'],
    ['runs of spaces, tabs and newlines', 'a  red\t\tcircle\r\n\nand\u000b\u000ca square', 'a red circle and a square'],
    ['trims the ends', '  \n a cat \t ', 'a cat'],
    ['NBSP, ideographic space, NEL, line separator', 'a\u00a0b\u3000c\u0085d\u2028e', 'a b c d e'],
    ['keeps case', 'A Photo of NYC', 'A Photo of NYC'],
    ['removes U+FEFF (default-ignorable)', '\ufeffa\ufeff', 'a'],
    ['only U+FEFF → empty', '\ufeff', ''],
    ['removes zero-width space, joiners, soft hyphen, variation selectors, bidi marks', 'a\u200bb\u200dc\u00add\ufe0fe\u200ff\u2060g', 'abcdefg'],
    ['an ignorable between spaces leaves one space', 'a \u200b b', 'a b'],
    ['keeps the letters of other scripts', 'سلام 猫', 'سلام 猫'],
    ['keeps HTML entities and punctuation', 'a &amp; b!', 'a &amp; b!'],
    ['only whitespace → empty', ' \t\n\u3000', ''],
  ])('%s', (_name, input, expected) => {
    expect(normalizePrompt(input)).toBe(expected)
  })
})
