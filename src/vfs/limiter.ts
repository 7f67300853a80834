/**
 * Small concurrency tools: a FIFO limiter for background jobs and a per-key mutex for inode state.
 */
import { raceSignal } from '../util/abort.js'

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

  /**
   * Runs `fn` with the key's lock held. A caller whose signal fires while it waits gets the
   * signal's error at once; its turn is given up without running (still in order).
   */
  async with<T> (key: K, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const prev = this.#tails.get(key)
    let release!: () => void
    const mine = new Promise<void>(resolve => { release = resolve })
    const tail = (prev ?? Promise.resolve()).then(async () => await mine)
    this.#tails.set(key, tail)
    const done = (): void => {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
    if (prev != null) {
      try {
        await raceSignal(prev, signal, 'waiting for the file lock')
      } catch (err) {
        void prev.then(done)
        throw err
      }
    }
    try {
      return await fn()
    } finally {
      done()
    }
  }
}
