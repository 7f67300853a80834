/**
 * Records repairs' new holders in batches. Each repaired stripe is one `holders` op. Recorded as
 * each repair ended, a device repairing 20–25 small stripes a second committed them one or two at
 * a time, and each such commit cost every other device a message, a seal to verify, a merge and a
 * commit of its own: in a swarm of five repairing devices that was most of the CPU of a small
 * stripe's repair (docs/repair.md, benchmark). The repairer hands its placements here and goes on
 * with the next stripe; they are recorded together once BATCH are waiting or DELAY_MS after the
 * first, as calls made at once, which the writer commits as one batch under few seals and
 * replication carries as one message. The ops stay one per stripe, so a stripe rewritten meanwhile
 * drops only its own op (apply-holders.ts).
 *
 * A placement's fragments are stored on their new devices before it gets here; until it is
 * recorded they are extra copies, never a loss (a repair cut short by a stop is done again by the
 * next walk). A repair pass ends with `flush`, so its next walk sees every record. Memory is
 * bounded: `add` waits while MAX_WAITING are waiting or being recorded.
 */
import type { MetaStore } from '../meta/index.js'
import { combineSignals, throwIfAborted, type AbortOptions } from '../util/abort.js'

/** Placements recorded together. */
const BATCH = 512
/**
 * The longest a placement waits for others, ms. Measured on the swarm benchmark (2,000 small files,
 * five repairing devices): 50 ms gave 15–16 s and 14–15 ms of CPU per stripe, 500 ms 11.7 s and
 * 10.7 ms, 1 s 9.6 s and 8.8 ms (before batching: 16–17 s, 14.6–16.1 ms).
 */
const DELAY_MS = 1000
/** Placements waiting (or being recorded) before `add` waits. */
const MAX_WAITING = 4 * BATCH
/**
 * Deadline of one batch's records, ms. Records do not take the signal of the pass that handed
 * them over: a pass stopped (the daemon stopping, its deadline) still records the repairs it
 * finished, whose copies are made, rather than leave them to be done again.
 */
const RECORD_TIMEOUT_MS = 60_000

/** One stripe's new holders: what `MetaStore.setHolders` takes. */
export interface Placement {
  ino: number
  index: number
  stripeId: string
  set: Array<[number, string, string[]]>
  /**
   * The stripe's holders when the placement was made: it is recorded only if they are still those
   * then (a record of another device landed meanwhile: this one is dropped, its copies are extra).
   */
  expect?: string[][]
}

/** What became of a placement: recorded (or the journal said so already), dropped (`stale`: the stripe changed meanwhile), or the error. */
export type Outcome = 'recorded' | 'stale' | Error

interface Waiting {
  placement: Placement
  done: (outcome: Outcome) => void
}

export class HoldersRecorder {
  readonly #meta: Pick<MetaStore, 'setHolders'>
  #waiting: Waiting[] = []
  #recording = 0
  #timer?: NodeJS.Timeout
  readonly #inFlight = new Set<Promise<void>>()

  constructor (meta: Pick<MetaStore, 'setHolders'>) {
    this.#meta = meta
  }

  /**
   * Queues `placement`; resolves once there is room (not once recorded; `options.signal` cuts
   * only that wait). `done` (which must not throw) is told the outcome once the batch settled.
   */
  async add (placement: Placement, done: (outcome: Outcome) => void, options: AbortOptions = {}): Promise<void> {
    while (this.#waiting.length + this.#recording >= MAX_WAITING && this.#inFlight.size > 0) {
      await Promise.race(this.#inFlight)
      throwIfAborted(options.signal, 'recording repaired holders')
    }
    this.#waiting.push({ placement, done })
    if (this.#waiting.length >= BATCH) this.#record()
    else this.#timer ??= setTimeout(() => { this.#record() }, DELAY_MS)
  }

  /** Records what waits now, and resolves once everything queued so far is recorded (or failed). */
  async flush (): Promise<void> {
    if (this.#waiting.length > 0) this.#record()
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight)
  }

  #record (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#waiting
    this.#waiting = []
    if (batch.length === 0) return
    this.#recording += batch.length
    const { signal, clear } = combineSignals([], RECORD_TIMEOUT_MS)
    // Calls made in one tick: the writer prepares them into one batch (one commit, few seals).
    const run = Promise.all(batch.map(async ({ placement: p }): Promise<Outcome> => {
      try {
        return await this.#meta.setHolders(p.ino, p.index, p.stripeId, p.set, { signal, expectHolders: p.expect }) ? 'recorded' : 'stale'
      } catch (err) {
        return err as Error
      }
    })).then((outcomes) => {
      outcomes.forEach((o, i) => { try { batch[i].done(o) } catch {} })
    }).finally(() => {
      clear()
      this.#recording -= batch.length
      this.#inFlight.delete(run)
    })
    this.#inFlight.add(run)
  }
}
