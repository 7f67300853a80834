/**
 * Deadlines of in-flight FUSE ops at a small fixed cost per op: one record in a set and one
 * promise, no timer and no AbortController of its own. One sweeper timer (running only while ops or
 * signals are live, unref'd) answers every op that passed its deadline; cancellation signals are
 * shared per time bucket (one AbortController per `bucketMs` of deadlines), aborted by the sweeper
 * once the bucket's end has passed, by which time every op of the bucket has been answered.
 *
 * It replaced a combined signal (AbortController + setTimeout + listeners) and a Promise.race per
 * op, which cost about 5 µs of the event loop per request.
 */
import { setMaxListeners } from 'node:events'
import { TimeoutError } from '../errors.js'

/** Settings of the sweeper. */
export interface OpDeadlinesInit {
  /** How often in-flight ops are checked against their deadlines, ms (default 100). */
  sweepMs?: number
  /** Width of one shared-signal bucket, ms (default 1000): a signal fires at most this late after an op's deadline. */
  bucketMs?: number
  /** Clock in ms (default `performance.now`). */
  now?: () => number
}

interface OpRecord {
  deadline: number
  resolve: (value: any) => void
  reject: (err: unknown) => void
}

/** The rejection of an op answered at its deadline (compare by identity). */
export const DEADLINE_PASSED: unique symbol = Symbol('deadline passed')

export class OpDeadlines {
  readonly #sweepMs: number
  readonly #bucketMs: number
  readonly #now: () => number
  readonly #inflight = new Set<OpRecord>()
  /** Bucket end (ms) → the controller whose signal the ops of that bucket share. */
  readonly #buckets = new Map<number, AbortController>()
  #timer: NodeJS.Timeout | undefined

  constructor (init: OpDeadlinesInit = {}) {
    this.#sweepMs = Math.max(1, init.sweepMs ?? 100)
    this.#bucketMs = Math.max(1, init.bucketMs ?? 1000)
    this.#now = init.now ?? (() => performance.now())
  }

  /** Ops in flight (for tests and stats). */
  get inflight (): number { return this.#inflight.size }

  /** Shared signals not yet fired (for tests). */
  get liveSignals (): number { return this.#buckets.size }

  /**
   * Runs `fn` with a signal that fires after `timeoutMs` (up to `bucketMs` later). The returned
   * promise settles with `fn`'s result, or rejects with DEADLINE_PASSED at the deadline (within one
   * sweep); `fn`'s late result is then dropped.
   */
  run<T> (timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = this.#now() + timeoutMs
    const signal = this.#signalFor(deadline)
    let rec!: OpRecord
    const answer = new Promise<T>((resolve, reject) => { rec = { deadline, resolve, reject } })
    this.#inflight.add(rec)
    this.#arm()
    let work: Promise<T>
    try {
      work = fn(signal)
    } catch (err) {
      work = Promise.reject(err)
    }
    work.then(
      (value) => { if (this.#inflight.delete(rec)) rec.resolve(value) },
      (err) => { if (this.#inflight.delete(rec)) rec.reject(err) }
    )
    return answer
  }

  /** Answers every op still in flight with DEADLINE_PASSED and fires every signal (shutdown, tests). */
  expireAll (): void {
    this.#sweep(Infinity)
  }

  #signalFor (deadline: number): AbortSignal {
    const end = Math.ceil(deadline / this.#bucketMs) * this.#bucketMs
    let c = this.#buckets.get(end)
    if (c == null) {
      c = new AbortController()
      // Every op of the bucket listens on it (raceSignal, fetches): no listener warning.
      setMaxListeners(Infinity, c.signal)
      this.#buckets.set(end, c)
    }
    return c.signal
  }

  #arm (): void {
    if (this.#timer != null) return
    this.#timer = setInterval(() => { this.#sweep(this.#now()) }, this.#sweepMs)
    this.#timer.unref()
  }

  #sweep (now: number): void {
    for (const rec of this.#inflight) {
      if (rec.deadline > now) continue
      this.#inflight.delete(rec)
      rec.reject(DEADLINE_PASSED)
    }
    // After the ops: a bucket ends no earlier than its ops' deadlines, so they are answered first.
    for (const [end, c] of this.#buckets) {
      if (end > now) continue
      this.#buckets.delete(end)
      c.abort(new TimeoutError('the file system operation passed its deadline'))
    }
    if (this.#inflight.size === 0 && this.#buckets.size === 0 && this.#timer != null) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}
