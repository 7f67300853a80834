/**
 * One-at-a-time execution per key (a fragment's CID): put, delete, quarantine and compaction of
 * the same fragment never interleave, while different fragments proceed in parallel.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>()

  /** Runs `fn` once every earlier `run` with the same key has settled. */
  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key)
    let release!: () => void
    const mine = new Promise<void>(resolve => { release = resolve })
    const tail = previous == null ? mine : previous.then(async () => { await mine })
    this.#tails.set(key, tail)
    try {
      if (previous != null) await previous
      return await fn()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }

  /** Keys with a holder or waiters (for tests and diagnostics). */
  get size (): number { return this.#tails.size }
}
