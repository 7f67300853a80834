/**
 * Sends fragments to devices with one putMany per device for everything that is waiting: while a
 * device has `maxCallsPerDevice` calls running, fragments of further stripes for it gather and go
 * together in the next call (small files then cost one round trip per batch, not per fragment),
 * and an idle device gets its fragments at once (no added latency). Each call has a deadline that
 * grows with its bytes; outcomes and timings feed DeviceStats.
 */
import { TimeoutError } from '../errors.js'
import type { FragmentClient, FragmentItem, PutOptions, PutOutcome } from '../net/index.js'
import { combineSignals, raceSignal } from '../util/abort.js'
import { isDeviceFailure, type DeviceStats } from './device-stats.js'

/** Settings of the sender. */
export interface FragmentSenderInit {
  /** putMany calls running per device at once. Default 2. */
  maxCallsPerDevice?: number
  /** Most bytes gathered into one call. Default 8 MiB. */
  maxCallBytes?: number
  /** A call's deadline: this plus 1 ms per KB it carries, ms. */
  timeoutMs: number
  /**
   * A call carrying at least this many bytes first asks the device which fragments it already
   * holds (`has`, one round trip) and sends only the others: writing the same content again (the
   * encoding is convergent: same bytes, same CIDs, same devices) sends nothing. Default 64 KiB.
   */
  dedupMinBytes?: number
}

/** What the sender moved, since start. */
export interface SenderCounters {
  /** Fragment bytes sent in putMany calls. */
  bytesSent: number
  /** Fragment bytes not sent because the device already held them. */
  bytesDeduplicated: number
}

export interface FragmentSenderComponents {
  fragments: Pick<FragmentClient, 'putMany' | 'has' | 'sync'>
  stats: DeviceStats
  /** Aborted when the pool stops. */
  shutdown: AbortSignal
}

interface Waiting {
  items: FragmentItem[]
  bytes: number
  /** Flushed by the device before the outcome (PutOptions.sync). */
  sync: boolean
  resolve: (outcomes: PutOutcome[]) => void
}

interface DeviceQueue {
  waiting: Waiting[]
  calls: number
}

export class FragmentSender {
  readonly #maxCalls: number
  readonly #maxBytes: number
  readonly #timeoutMs: number
  readonly #c: FragmentSenderComponents
  readonly #queues = new Map<string, DeviceQueue>()
  readonly #dedupMinBytes: number
  readonly counters: SenderCounters = { bytesSent: 0, bytesDeduplicated: 0 }

  constructor (init: FragmentSenderInit, components: FragmentSenderComponents) {
    this.#maxCalls = init.maxCallsPerDevice ?? 2
    this.#maxBytes = init.maxCallBytes ?? 8 * 1024 * 1024
    this.#timeoutMs = init.timeoutMs
    this.#dedupMinBytes = init.dedupMinBytes ?? 64 * 1024
    this.#c = components
  }

  /**
   * Stores `items` on `device`; one outcome per item, in order. Rejects only when `options.signal`
   * fires. With `sync`, an item is ok once the device has also flushed it (a call that carries any
   * such item flushes all of its items).
   */
  async send (device: string, items: FragmentItem[], options: PutOptions = {}): Promise<PutOutcome[]> {
    if (items.length === 0) return []
    let q = this.#queues.get(device)
    if (q == null) {
      q = { waiting: [], calls: 0 }
      this.#queues.set(device, q)
    }
    const done = new Promise<PutOutcome[]>(resolve => {
      (q as DeviceQueue).waiting.push({ items, bytes: items.reduce((s, i) => s + i.bytes.byteLength, 0), sync: options.sync === true, resolve })
    })
    this.#dispatch(device, q)
    // A cancelled caller stops waiting; its fragments may still be stored (puts are idempotent).
    return await raceSignal(done, options.signal, `sending fragments to ${device}`)
  }

  #dispatch (device: string, q: DeviceQueue): void {
    while (q.calls < this.#maxCalls && q.waiting.length > 0) {
      const group: Waiting[] = []
      let bytes = 0
      while (q.waiting.length > 0 && (group.length === 0 || bytes + q.waiting[0].bytes <= this.#maxBytes)) {
        const w = q.waiting.shift() as Waiting
        group.push(w)
        bytes += w.bytes
      }
      q.calls++
      void this.#call(device, group, bytes).finally(() => {
        q.calls--
        if (q.waiting.length > 0) this.#dispatch(device, q)
        else if (q.calls === 0) this.#queues.delete(device)
      })
    }
  }

  /**
   * putMany of the items the device does not hold yet (asked first when the call is big enough).
   * With `sync`, the ones it held are flushed too (held is not flushed), alongside the put.
   */
  async #putMissing (device: string, items: FragmentItem[], bytes: number, sync: boolean, signal: AbortSignal): Promise<PutOutcome[]> {
    let held: boolean[] = items.map(() => false)
    if (bytes >= this.#dedupMinBytes) {
      // A failed question costs nothing but the round trip: everything is sent.
      held = await this.#c.fragments.has(device, items.map(i => i.cid), { signal }).catch(() => held)
    }
    const send = items.filter((_, i) => !held[i])
    const kept = items.filter((_, i) => held[i]).map(i => i.cid)
    const [sent, flushError] = await Promise.all([
      send.length > 0 ? this.#c.fragments.putMany(device, send, { signal, sync }) : [],
      sync && kept.length > 0 ? this.#c.fragments.sync(device, kept, { signal }).then(() => undefined, (err: Error) => err) : undefined
    ])
    this.counters.bytesSent += send.reduce((s, i) => s + i.bytes.byteLength, 0)
    let at = 0
    return items.map((item, i) => {
      if (!held[i]) return sent[at++]
      if (flushError != null) return { cid: item.cid, ok: false as const, error: flushError }
      this.counters.bytesDeduplicated += item.bytes.byteLength
      return { cid: item.cid, ok: true as const }
    })
  }

  async #call (device: string, group: Waiting[], bytes: number): Promise<void> {
    const items = group.flatMap(w => w.items)
    const { signal, clear } = combineSignals([this.#c.shutdown], this.#timeoutMs + Math.ceil(bytes / 1000))
    const started = performance.now()
    let outcomes: PutOutcome[]
    try {
      outcomes = await this.#putMissing(device, items, bytes, group.some(w => w.sync), signal)
    } catch (err) {
      outcomes = items.map(it => ({ cid: it.cid, ok: false as const, error: err as Error }))
    } finally {
      clear()
    }
    if (signal.aborted && !this.#c.shutdown.aborted) {
      // Our deadline, not the caller's: the device is too slow or gone.
      const late = new TimeoutError(`device ${device} did not store ${items.length} fragments (${bytes} bytes) in time; it may be overloaded or gone`, { details: { peer: device } })
      outcomes = outcomes.map(o => o.ok ? o : { cid: o.cid, ok: false as const, error: late })
    }
    const ms = performance.now() - started
    const failure = outcomes.find((o): o is PutOutcome & { ok: false } => !o.ok)
    if (failure != null) this.#c.stats.failed(device, failure.error)
    const stored = outcomes.reduce((s, o, i) => o.ok ? s + items[i].bytes.byteLength : s, 0)
    if (stored > 0) this.#c.stats.sent(device, stored)
    if (failure == null || !isDeviceFailure(failure.error)) this.#c.stats.succeeded(device, bytes, ms)
    let at = 0
    for (const w of group) {
      w.resolve(outcomes.slice(at, at + w.items.length))
      at += w.items.length
    }
  }
}
