/**
 * Group commit of fsyncs. Writes register what must reach stable storage (`add`); `sync(keys)`
 * waits until those keys are durable. Calls that arrive while a batch is being flushed join the
 * next batch, so N concurrent syncs cost at most two rounds of fsyncs, not N.
 */
import { raceSignal, throwIfAborted, type AbortOptions } from '../util/abort.js'

/** Group commit of the items registered with `add`; `T` is what the flush needs to make one durable. */
export class GroupSync<T> {
  readonly #flush: (items: T[]) => Promise<void>
  /** Written, not yet taken by a batch. */
  readonly #pending = new Map<string, T>()
  /** Taken by the running batch: its promise. */
  readonly #inflight = new Map<string, Promise<void>>()
  #running: Promise<void> | undefined
  #queued: { keys: Set<string> | 'all', promise: Promise<void> } | undefined

  /** `flush` makes the given items durable (it receives each pending item once per batch). */
  constructor (flush: (items: T[]) => Promise<void>) {
    this.#flush = flush
  }

  /** Number of items written but not yet in a batch. */
  get pendingCount (): number { return this.#pending.size }

  /** Registers `item` (for `key`) as written and not yet durable. */
  add (key: string, item: T): void {
    this.#pending.set(key, item)
  }

  /** `key` no longer needs syncing (its data was deleted). */
  forget (key: string): void {
    this.#pending.delete(key)
  }

  /**
   * Resolves when the items of `keys` (default: every item added so far) are durable. The signal
   * stops the wait, not a flush already running (fsync cannot be interrupted).
   */
  async sync (keys?: Iterable<string>, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'sync')
    const waits = new Set<Promise<void>>()
    let wanted: Set<string> | 'all' | undefined
    if (keys == null) {
      for (const p of this.#inflight.values()) waits.add(p)
      if (this.#pending.size > 0) wanted = 'all'
    } else {
      for (const key of keys) {
        const p = this.#inflight.get(key)
        if (p != null) waits.add(p)
        if (this.#pending.has(key)) {
          wanted ??= new Set()
          if (wanted !== 'all') wanted.add(key)
        }
      }
    }
    if (wanted != null) waits.add(this.#schedule(wanted))
    if (waits.size === 0) return
    await raceSignal(Promise.all(waits).then(() => {}), options.signal, 'sync')
  }

  /** Adds `keys` to the next batch (creating it) and returns that batch's promise. */
  #schedule (keys: Set<string> | 'all'): Promise<void> {
    const queued = this.#queued
    if (queued != null) {
      if (keys === 'all') queued.keys = 'all'
      else if (queued.keys !== 'all') for (const k of keys) queued.keys.add(k)
      return queued.promise
    }
    const next: { keys: Set<string> | 'all', promise: Promise<void> } = { keys, promise: Promise.resolve() }
    // Set before the batch runs: with no flush running it starts (and leaves the queue) synchronously.
    this.#queued = next
    next.promise = this.#runAfterCurrent(next)
    // Waiters receive the rejection; this handler only keeps an unwaited batch from crashing the process.
    next.promise.catch(() => {})
    return next.promise
  }

  async #runAfterCurrent (batch: { keys: Set<string> | 'all' }): Promise<void> {
    if (this.#running != null) await this.#running.catch(() => {})
    if (this.#queued === batch) this.#queued = undefined
    const taken = new Map<string, T>()
    if (batch.keys === 'all') {
      for (const [k, v] of this.#pending) taken.set(k, v)
    } else {
      for (const k of batch.keys) {
        const v = this.#pending.get(k)
        if (v !== undefined) taken.set(k, v)
      }
    }
    for (const k of taken.keys()) this.#pending.delete(k)
    const run = this.#flush([...taken.values()])
    this.#running = run
    for (const k of taken.keys()) this.#inflight.set(k, run)
    try {
      await run
    } catch (err) {
      // Not durable: keep the items so that a later sync tries again, and tell this batch's waiters.
      for (const [k, v] of taken) if (!this.#pending.has(k)) this.#pending.set(k, v)
      throw err
    } finally {
      for (const k of taken.keys()) if (this.#inflight.get(k) === run) this.#inflight.delete(k)
      if (this.#running === run) this.#running = undefined
    }
  }
}
