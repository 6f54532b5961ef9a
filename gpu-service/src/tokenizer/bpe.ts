import type { Merge } from './merge-list.ts'

/** Word → token ids memo size before it is emptied: prompts reuse few words, a server runs for weeks. */
const cacheLimit = 100_000

/**
 * Byte-pair encoding of single words with a rank table, as CLIP's `bpe()`: the word's last symbol gets
 * `</w>`, then the adjacent pair with the lowest rank is merged everywhere (left to right) until no
 * ranked pair is left. Results are memoised per word, as ids, since prompts repeat words constantly.
 */
export class Bpe {
  readonly #ranks = new Map<string, number>()
  readonly #vocab: ReadonlyMap<string, number>
  readonly #cache = new Map<string, readonly number[]>()
  readonly #fixed: ReadonlyMap<string, readonly number[]>

  /** `fixed` words bypass BPE (CLIP's special tokens, which its cache is seeded with). */
  constructor(merges: readonly Merge[], vocab: ReadonlyMap<string, number>, fixed: ReadonlyMap<string, number>) {
    merges.forEach(([a, b], rank) => {
      // Symbols never contain a space (bytes_to_unicode maps it to 'Ġ'). A repeated pair keeps its last
      // rank, as CLIP's `dict(zip(merges, range(...)))` does (the shipped list has no repeats).
      this.#ranks.set(`${a} ${b}`, rank)
    })
    this.#vocab = vocab
    this.#fixed = new Map([...fixed].map(([word, id]) => [word, [id]]))
  }

  /** The ids of one pre-tokenised word (`bytes_to_unicode` characters, no `</w>` yet). */
  ids(word: string): readonly number[] {
    const known = this.#fixed.get(word) ?? this.#cache.get(word)
    if (known !== undefined) return known
    const ids = this.symbols(word).map((symbol) => {
      const id = this.#vocab.get(symbol)
      if (id === undefined) throw new Error(`BPE produced "${symbol}", which is not in the vocabulary`)
      return id
    })
    if (this.#cache.size >= cacheLimit) this.#cache.clear()
    this.#cache.set(word, ids)
    return ids
  }

  /** The merged symbols of one word; `</w>` ends the last one. */
  symbols(word: string): string[] {
    // Every bytes_to_unicode character is one UTF-16 code unit, so split('') splits characters.
    let symbols = word.split('')
    const last = symbols.length - 1
    if (last < 0) return []
    symbols[last] += '</w>'
    while (symbols.length > 1) {
      let best = Infinity
      let bestAt = -1
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.#ranks.get(`${symbols[i]} ${symbols[i + 1]}`)
        if (rank !== undefined && rank < best) {
          best = rank
          bestAt = i
        }
      }
      if (bestAt < 0) break
      const first = symbols[bestAt] as string
      const second = symbols[bestAt + 1] as string
      const merged: string[] = []
      for (let i = 0; i < symbols.length; i++) {
        const symbol = symbols[i] as string
        if (symbol === first && symbols[i + 1] === second) {
          merged.push(first + second)
          i++
        } else {
          merged.push(symbol)
        }
      }
      symbols = merged
    }
    return symbols
  }
}
