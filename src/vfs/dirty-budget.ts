/**
 * The global budget of dirty write-buffer bytes. Every dirty stripe buffer holds a Charge for its
 * capacity. A writer that would go over the limit first asks the spill callback to start storing
 * dirty stripes early (encode + place: the "spill" is to the fragment store, see docs/vfs.md), then
 * waits until stores release memory. When nothing can free memory (every dirty stripe failed to
 * store), the writer gets the failure instead of waiting forever.
 */
import { NoSpaceError } from '../errors.js'
import { abortError, type AbortOptions } from '../util/abort.js'

/** Bytes held for one buffer. `release()` is idempotent. */
export class Charge {
  readonly bytes: number
  #budget: DirtyBudget | undefined

  constructor (budget: DirtyBudget, bytes: number) {
    this.#budget = budget
    this.bytes = bytes
  }

  get released (): boolean { return this.#budget == null }

  release (): void {
    const b = this.#budget
    if (b == null) return
    this.#budget = undefined
    b.give(this.bytes)
  }
}

/** How a writer waits for budget: its signal, how to spill, and what to fail with instead of waiting. */
export interface ReserveOptions extends AbortOptions {
  /**
   * Starts storing dirty stripes to free at least `bytes`; returns true when something is running
   * (in flight) that will release memory.
   */
  spill: (bytes: number) => boolean
  /** An error to throw instead of waiting (e.g. the file's deferred store failure). */
  check?: () => Error | undefined
}

/** Global budget of dirty write-buffer bytes (limit in bytes; one buffer alone may exceed it). */
export class DirtyBudget {
  readonly limitBytes: number
  #used = 0
  #waiters = new Set<() => void>()
  #waiting = 0

  constructor (limitBytes: number) {
    this.limitBytes = Math.max(1, limitBytes)
  }

  get usedBytes (): number { return this.#used }
  get waiters (): number { return this.#waiting }

  /** A charge of `bytes`, waiting (and spilling) while over the limit. One buffer alone may exceed it. */
  async reserve (bytes: number, options: ReserveOptions): Promise<Charge> {
    let waited = false
    try {
      for (;;) {
        if (this.#used === 0 || this.#used + bytes <= this.limitBytes) {
          this.#used += bytes
          return new Charge(this, bytes)
        }
        const err = options.check?.()
        if (err != null) throw err
        if (options.signal?.aborted === true) throw abortError(options.signal, 'waiting for write-buffer space')
        if (!options.spill(this.#used + bytes - this.limitBytes)) {
          throw new NoSpaceError(`the write buffer is full (${this.#used} of ${this.limitBytes} bytes) of data that could not be stored; free space in the pool or add a device, then write again`)
        }
        if (!waited) { waited = true; this.#waiting++ }
        await this.#next(options)
      }
    } finally {
      if (waited) this.#waiting--
    }
  }

  /** Wakes waiters so they re-check (a store failed, or state changed). */
  poke (): void {
    const ws = [...this.#waiters]
    this.#waiters.clear()
    for (const w of ws) w()
  }

  /** @internal Called by Charge.release. */
  give (bytes: number): void {
    this.#used -= bytes
    this.poke()
  }

  async #next (options: AbortOptions): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const signal = options.signal
      const onAbort = (): void => { this.#waiters.delete(wake); reject(abortError(signal as AbortSignal, 'waiting for write-buffer space')) }
      const wake = (): void => { signal?.removeEventListener('abort', onAbort); resolve() }
      this.#waiters.add(wake)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
