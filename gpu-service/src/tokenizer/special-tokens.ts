/** CLIP's special tokens: the last two vocabulary entries, and the only ones its word pattern keeps whole. */
export const startToken = '<|startoftext|>'
export const endToken = '<|endoftext|>'

/** The pad tokens Stable Diffusion bundles use: SD 1.x pads with the end token, SD 2.x with `!` (id 0). */
export type PadToken = '<|endoftext|>' | '!'

/** CLIP's context length: start token, 75 content tokens, end token. */
export const contextLength = 77
