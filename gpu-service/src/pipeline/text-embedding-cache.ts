/**
 * LRU cache of text-encoder outputs per prompt (one `[tokens × hidden]` row each). Repeated prompts
 * and the empty prompt (used for rows without a negative prompt) skip the text encoder.
 */
export class TextEmbeddingCache {
  private readonly entries = new Map<string, Float32Array>()
  readonly capacity: number
  hits = 0
  misses = 0

  constructor(capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new Error('cache capacity must be a non-negative integer')
    this.capacity = capacity
  }

  get(prompt: string): Float32Array | undefined {
    const value = this.entries.get(prompt)
    if (value === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.entries.delete(prompt)
    this.entries.set(prompt, value)
    return value
  }

  set(prompt: string, embedding: Float32Array): void {
    if (this.capacity === 0) return
    this.entries.delete(prompt)
    this.entries.set(prompt, embedding)
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  get size(): number {
    return this.entries.size
  }
}
