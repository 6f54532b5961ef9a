import { describe, expect, it } from 'vitest'
import { cleanText } from './clean-text.ts'

describe('cleanText (CLIP basic_clean + whitespace_clean + lower, without ftfy)', () => {
  it.each([
    ['   leading and   multiple    spaces\tand\ttabs\nand newlines   ', 'leading and multiple spaces and tabs and newlines'],
    ['UPPER case PROMPT', 'upper case prompt'],
    ['&amp;amp; &lt;3', '& <3'],
    ['a&nbsp;b', 'a b'], // the no-break space it unescapes to is whitespace too
    ['\u0085a\u2028b\u3000', 'a b'],
    ['\ufeffa', '\ufeffa'], // not Unicode White_Space, although JS's \s and trim() say it is
    ['\u001ca\u001cb\u001c', 'a\u001cb'], // Python's strip() removes U+001C, its \s does not
    ['ΣΟΦΟΣ', 'σοφος'],
    ['’curly’', '’curly’'], // ftfy would straighten these; see clean-text.ts
  ])('%j → %j', (input, output) => {
    expect(cleanText(input)).toBe(output)
  })
})
