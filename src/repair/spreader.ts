/**
 * The spreader: copies queued fragments (the shortfall of writes made while devices were missing)
 * to the devices they are meant for once those are online. It drains one device's queue at a time
 * per device, when the device comes online, when new entries arrive for an online device, and on a
 * timer (a device that failed a copy is retried then). Each batch reads the fragments from this
 * device's store or from another holder, and stores them on the target with one putMany. Copies
 * are idempotent; holders keep their copy (no device can prove a copy unused while metadata is not
 * replicated, see docs/pool.md).
 */
import { CID } from 'multiformats/cid'
import type { FragmentClient, FragmentItem, Membership } from '../net/index.js'
import type { DrainResult, FileSpreadQueue, SpreadEntry } from '../place/index.js'
import type { FragmentStore } from '../store/index.js'
import { combineSignals } from '../util/abort.js'
import type { ComponentLogger, Logger } from '../util/logger.js'

/** Settings of the spreader. */
export interface SpreaderInit {
  /** How often queues of online devices are retried, ms. Default 5000. */
  intervalMs?: number
  /** Deadline of one batch (fetch + store), ms. Default 30000. */
  batchTimeoutMs?: number
  /** Most fragment bytes held for one batch. Default 16 MiB. */
  batchBytes?: number
  /** New entries wait this long so that the fragments of many writes travel together, ms. Default 200. */
  gatherMs?: number
}

/** What the spreader uses. */
export interface SpreaderComponents {
  queue: FileSpreadQueue
  membership: Pick<Membership, 'get' | 'addEventListener' | 'removeEventListener'>
  fragments: Pick<FragmentClient, 'get' | 'putMany' | 'has'>
  store: Pick<FragmentStore, 'get'>
  deviceId: string
  logger: ComponentLogger
}

export class Spreader {
  readonly #c: SpreaderComponents
  readonly #intervalMs: number
  readonly #batchTimeoutMs: number
  readonly #batchBytes: number
  readonly #gatherMs: number
  readonly #log: Logger
  /** Targets with new entries waiting for the gather delay. */
  readonly #gathering = new Set<string>()
  readonly #running = new Map<string, Promise<void>>()
  readonly #again = new Set<string>()
  /** Targets whose last drain moved nothing: the timer leaves them alone until then (epoch ms). */
  readonly #idleUntil = new Map<string, number>()
  readonly #stopping = new AbortController()
  #timer?: NodeJS.Timeout
  readonly #onOnline = (evt: CustomEvent<{ id: string }>): void => { this.kick([evt.detail.id]) }

  constructor (init: SpreaderInit, components: SpreaderComponents) {
    this.#c = components
    this.#intervalMs = init.intervalMs ?? 5000
    this.#batchTimeoutMs = init.batchTimeoutMs ?? 30_000
    this.#batchBytes = init.batchBytes ?? 16 * 1024 * 1024
    this.#gatherMs = init.gatherMs ?? 200
    this.#log = components.logger.forComponent('palm:repair:spreader')
  }

  /** Fragments copied to their devices since start. */

  async start (): Promise<void> {
    this.#c.membership.addEventListener('peer:online', this.#onOnline as EventListener)
    this.#c.queue.onAdded(targets => { this.#gather(targets) })
    this.#timer = setInterval(() => {
      const now = Date.now()
      this.kick(this.#c.queue.targets().filter(t => (this.#idleUntil.get(t) ?? 0) <= now))
    }, this.#intervalMs)
    this.#timer.unref()
    this.kick(this.#c.queue.targets())
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#c.membership.removeEventListener('peer:online', this.#onOnline as EventListener)
    this.#stopping.abort()
    await Promise.allSettled([...this.#running.values()])
  }

  /** Kicks `targets` after the gather delay (one timer per target). */
  #gather (targets: string[]): void {
    const fresh = targets.filter(t => !this.#gathering.has(t))
    if (fresh.length === 0 || this.#stopping.signal.aborted) return
    for (const t of fresh) this.#gathering.add(t)
    setTimeout(() => {
      for (const t of fresh) this.#gathering.delete(t)
      this.kick(fresh)
    }, this.#gatherMs).unref()
  }

  /** Starts draining the queues of those `targets` that are online (one drain per device at a time). */
  kick (targets: string[]): void {
    if (this.#stopping.signal.aborted) return
    for (const target of targets) {
      if (this.#c.membership.get(target)?.online !== true || this.#c.queue.countFor(target) === 0) continue
      if (this.#running.has(target)) { this.#again.add(target); continue }
      const run = this.#drain(target).catch(err => { this.#log.error('spreading to %s failed: %e', target, err) }).finally(() => {
        this.#running.delete(target)
        if (this.#again.delete(target)) this.kick([target])
      })
      this.#running.set(target, run)
    }
  }

  async #drain (target: string): Promise<void> {
    const moved = await this.#c.queue.drain(target, async (batch) => await this.#copy(target, batch), { signal: this.#stopping.signal })
    if (moved === 0) this.#idleUntil.set(target, Date.now() + 12 * this.#intervalMs)
    else this.#idleUntil.delete(target)
    if (moved > 0) {
      this.#log('spread %d fragments to %s; %d still wait for it', moved, target, this.#c.queue.countFor(target))
    }
  }

  /** Copies one batch to `target`; returns the entries to keep, or 'stop' when the target is gone. */
  async #copy (target: string, batch: SpreadEntry[]): Promise<DrainResult> {
    if (this.#c.membership.get(target)?.online !== true) return 'stop'
    const { signal, clear } = combineSignals([this.#stopping.signal], this.#batchTimeoutMs)
    try {
      const keep: SpreadEntry[] = []
      const items: FragmentItem[] = []
      const sent: SpreadEntry[] = []
      let bytes = 0
      // Fragments the target already has (a put that finished after the write gave up on it) need no copy.
      const present = await this.#c.fragments.has(target, batch.map(e => CID.parse(e.cid)), { signal })
      for (const [i, e] of batch.entries()) {
        if (present[i]) continue
        const got = bytes < this.#batchBytes ? await this.#fetch(e, signal) : undefined
        if (got == null) { keep.push(e); continue }
        items.push({ cid: got.cid, bytes: got.bytes })
        sent.push(e)
        bytes += got.bytes.byteLength
      }
      if (items.length === 0) return keep
      // Flushed by the target (on the put's round trip): the copy the journal will name is stable.
      const outcomes = await this.#c.fragments.putMany(target, items, { signal, sync: true })
      outcomes.forEach((o, i) => { if (!o.ok) keep.push(sent[i]) })
      const failed = outcomes.find((o): o is typeof o & { ok: false } => !o.ok)
      if (failed != null) {
        this.#log('%d of %d fragments could not be spread to %s: %s', keep.length, batch.length, target, failed.error.message)
        if (keep.length === batch.length) return 'stop'
      }
      return keep
    } finally {
      clear()
    }
  }

  /** The fragment's bytes from this device or another holder; undefined when none has it now. */
  async #fetch (e: SpreadEntry, signal: AbortSignal): Promise<{ cid: CID, bytes: Uint8Array } | undefined> {
    const cid = CID.parse(e.cid)
    for (const holder of e.holders) {
      try {
        if (holder === this.#c.deviceId) return { cid, bytes: await this.#c.store.get(cid, { signal }) }
        if (this.#c.membership.get(holder)?.online === true) return { cid, bytes: await this.#c.fragments.get(holder, cid, { signal }) }
      } catch (err) {
        if (signal.aborted) return undefined
        this.#log('fragment %s for %s is not readable on %s: %s', e.cid, e.target, holder, (err as Error).message)
      }
    }
    return undefined
  }
}
