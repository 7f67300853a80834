/**
 * Small concurrency tools: a FIFO limiter for background jobs and a per-key mutex for inode state.
 */

/** Runs at most `limit` jobs at once; the rest wait in FIFO order. */
export class Limiter {
  readonly #limit: number
  #running = 0
  readonly #queue: Array<() => void> = []

  constructor (limit: number) {
    this.#limit = Math.max(1, limit)
  }

  get running (): number { return this.#running }
  get queued (): number { return this.#queue.length }
  /** True when a new job would have to wait. */
  get saturated (): boolean { return this.#running >= this.#limit }

  async run<T> (job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      await new Promise<void>(resolve => { this.#queue.push(resolve) })
    } else {
      this.#running++
    }
    try {
      return await job()
    } finally {
      const next = this.#queue.shift()
      if (next != null) next()
      else this.#running--
    }
  }
}

/** One async lock per key; waiters run in FIFO order. The map holds only keys in use. */
export class KeyedMutex<K> {
  readonly #tails = new Map<K, Promise<void>>()

  /** Runs `fn` with the key's lock held. */
  async with<T> (key: K, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key)
    let release!: () => void
    const mine = new Promise<void>(resolve => { release = resolve })
    const tail = (prev ?? Promise.resolve()).then(async () => await mine)
    this.#tails.set(key, tail)
    try {
      if (prev != null) await prev
      return await fn()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}
