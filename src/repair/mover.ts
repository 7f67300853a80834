/**
 * Rebalance's execution (docs/repair.md "Rebalance"): the moves of this device's own fragments that
 * the pure plan (rebalance.ts) picks during the repairer's walks, carried out when a walk found no
 * repair to do. The repairer schedules (walks, passes, drain); this module copies, records and frees.
 *
 * A stripe's moves are copied to their new devices and recorded with one `holders` op naming
 * [new holder, this device]; once the walk's moves are copied and other devices' ops of the same
 * moments have arrived (REBALANCE_SETTLE_MS), each stripe is read again and the new holder is named
 * alone only when the stripe keeps as many fragments on distinct devices without this device's
 * copies. Then this device frees its copies, unless a stripe still names it for the same CID or an
 * undo record a late op could need holds it (tried again later). Bytes read and sent count against
 * the repair budget.
 */
import { CID } from 'multiformats/cid'
import { fragmentLengthFor } from '../chunk/index.js'
import type { MetaStore, StripeRef } from '../meta/index.js'
import type { FragmentClient, FragmentItem } from '../net/index.js'
import { holdersOf, type Candidate } from '../place/index.js'
import type { FragmentStore } from '../store/index.js'
import { combineSignals, delay } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import { matchDistinct } from './plan.js'
import { RebalancePlanner, type Move, type RebalanceDevice } from './rebalance.js'
import { stripeNow, type StripeAt } from './stripe-now.js'

/** Settings of the mover (the repairer's, passed on). */
export interface MoverInit {
  /** Usage difference (fraction of capacity) past which this device moves its own fragments; 0 = never. */
  slack: number
  /** Budget of moves, bytes read here + sent per second. */
  bytesPerSecond: number
  /** Stripes moved at once. */
  concurrency: number
  /** Deadline of one stripe's copy and record, ms. */
  stripeTimeoutMs: number
}

/** What the mover uses. */
export interface MoverComponents {
  meta: Pick<MetaStore, 'allStripes' | 'getStripes' | 'setHolders'> & Partial<Pick<MetaStore, 'heldFragments'>>
  /** Placement's view of the devices (availability). */
  candidates: () => Candidate[]
  /** Online devices' capacity and usage, this one first (none: no rebalance). */
  figures?: () => RebalanceDevice[]
  /** What each peer is known to hold of the journal (see RepairerComponents.peerVectors). */
  peerVectors?: () => ReadonlyMap<string, ReadonlyMap<string, number>>
  fragments: Pick<FragmentClient, 'putMany'>
  store: Pick<FragmentStore, 'get' | 'delete'>
  /** Devices that never take a fragment (declared gone, being drained). */
  excluded: (id: string) => boolean
  describe: (id: string) => string
  deviceId: string
  log: Logger
}

/** Fragments of one stripe this device moves off itself. */
export interface MoveWork extends StripeAt {
  moves: Move[]
}

/** Most fragments one walk plans to move (bounds memory; the next walk goes on). */
const MAX_MOVES_PER_WALK = 2048
/** After a walk that moved fragments, the next rebalance waits this long (peers' usage figures catch up), ms. */
const REBALANCE_COOLDOWN_MS = 10_000
/**
 * A move is recorded in two steps this far apart, ms: first the new holder beside this one, then,
 * if the stripe still has as many fragments on distinct devices without this one, the new holder
 * alone. Longer than a `holders` op takes to reach every online device, so that a repair another
 * device recorded while this one copied (it could not see the move) is seen before this copy goes.
 */
const REBALANCE_SETTLE_MS = 5000
/**
 * Copies moved away that an undo record still held are tried again after FREE_RETRY_FIRST_MS, then
 * twice as long each time some stay, up to FREE_RETRY_MS, ms. The record goes once every device is
 * known past the move (their vectors arrive within seconds), so the first try usually frees them:
 * until then the device still looks as full as before the move.
 */
const FREE_RETRY_FIRST_MS = 10_000
const FREE_RETRY_MS = 60_000
/** Most copies remembered to free later. */
const MAX_TO_FREE = 100_000

/** One walk's moves, planned stripe by stripe as the walk goes (`Mover.walk`). */
export class MoveWalk {
  readonly planner: RebalancePlanner
  readonly moves: MoveWork[] = []
  #count = 0

  constructor (planner: RebalancePlanner) {
    this.planner = planner
  }

  /** Plans the moves of a stripe that needs no repair; `online`: ids of the online devices. */
  offer (ino: number, stripe: StripeRef, online: ReadonlySet<string>): void {
    if (this.#count >= MAX_MOVES_PER_WALK) return
    const m = this.planner.plan(stripe, fragmentLengthFor(stripe.length, stripe.k), online)
    if (m.length > 0) { this.moves.push({ ino, stripe, moves: m }); this.#count += m.length }
  }
}

export class Mover {
  readonly #c: MoverComponents
  readonly #init: MoverInit
  #stopped = false
  #rebalanceAfterMs = 0
  /** Moves of the last walk that planned any, until the pass takes them. */
  #planned: MoveWork[] = []
  /** CIDs of copies this device moved away and could not free yet (an undo record held them). */
  readonly #toFree = new Set<string>()
  #freeTriedMs = 0
  #freeRetryMs = FREE_RETRY_FIRST_MS
  /** Fragments this device moved off itself since start (copied, recorded, freed here). */
  fragmentsMoved = 0
  /** Fragment bytes this device planned to move at the last walk that planned. */
  bytesToRebalance = 0

  constructor (init: MoverInit, components: MoverComponents) {
    this.#init = init
    this.#c = components
  }

  /** Ends the running moves between stripes. */
  stop (): void {
    this.#stopped = true
  }

  /** The plan of a walk's moves, or none (off, no usage figures, cooling down after moves). */
  walk (nowMs: number): MoveWalk | undefined {
    if (this.#init.slack <= 0 || this.#c.figures == null || nowMs < this.#rebalanceAfterMs) return undefined
    const available = new Set(this.#c.candidates().filter(c => c.available && !this.#c.excluded(c.id)).map(c => c.id))
    const devices = this.#c.figures().filter(d => d.id === this.#c.deviceId || available.has(d.id))
    return new MoveWalk(new RebalancePlanner(this.#c.deviceId, devices, { slack: this.#init.slack }))
  }

  /** Keeps a finished walk's moves for the pass (`takePlanned`). */
  planned (walk: MoveWalk): void {
    this.#planned = walk.moves
    this.bytesToRebalance = walk.planner.plannedBytes
  }

  /** The moves the last walk planned (then forgotten). */
  takePlanned (): MoveWork[] {
    const moves = this.#planned
    this.#planned = []
    return moves
  }

  /** Runs rebalance moves within the bandwidth budget (bytes read here + sent). */
  async rebalance (work: MoveWork[], signal: AbortSignal): Promise<void> {
    const started = performance.now()
    let bytes = 0
    let next = 0
    const copied: Array<{ w: MoveWork, indices: number[] }> = []
    const runner = async (): Promise<void> => {
      while (next < work.length && !signal.aborted && !this.#stopped) {
        const w = work[next++]
        // Reserved before the move starts (read here + sent), as lazy repairs do.
        const aheadMs = (bytes / this.#init.bytesPerSecond) * 1000 - (performance.now() - started)
        bytes += 2 * w.moves.length * fragmentLengthFor(w.stripe.length, w.stripe.k)
        if (aheadMs >= 1) await delay(aheadMs, { signal }).catch(() => {})
        const indices = await this.#moveOne(w, signal)
        if (indices.length > 0) copied.push({ w, indices })
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#init.concurrency, work.length) }, runner))
    if (copied.length === 0) return
    // Second step, once other devices' ops of the same moments have arrived: this device's copies
    // are let go where the stripe keeps as many fragments on distinct devices without them.
    await delay(REBALANCE_SETTLE_MS, { signal }).catch(() => {})
    const moved = new Set<string>()
    for (const { w, indices } of copied) {
      if (signal.aborted) return
      for (const index of await this.#letGo(w, indices, signal)) moved.add(w.stripe.fragments[index])
    }
    const count = moved.size
    const kept = this.#toFree.size
    const freed = count > 0 ? await this.#freeMoved(moved, signal) : 0
    if (this.#toFree.size > kept) this.#freeRetryMs = FREE_RETRY_FIRST_MS
    this.#rebalanceAfterMs = Date.now() + REBALANCE_COOLDOWN_MS
    this.#c.log('rebalance moved %d fragments (%d bytes) in %d ms; %d copies freed here, %d kept while undo records name them', count, bytes / 2, Math.round(performance.now() - started), freed, this.#toFree.size)
  }

  /** Frees copies moved away earlier that undo records held (backing off while some stay). */
  async retryFrees (signal: AbortSignal): Promise<void> {
    if (this.#toFree.size === 0 || Date.now() - this.#freeTriedMs < this.#freeRetryMs) return
    const freed = await this.#freeMoved(new Set(this.#toFree), signal)
    this.#freeRetryMs = Math.min(FREE_RETRY_MS, this.#freeRetryMs * 2)
    if (freed > 0) this.#c.log('freed %d copies moved away earlier; %d still kept while undo records name them', freed, this.#toFree.size)
  }

  /**
   * Copies one stripe's moving fragments to their new devices and records them with one `holders`
   * op, all or nothing (the set was checked as a whole), each new holder first and this device
   * still after it (its copy stays until `#letGo`). Returns the indices copied and recorded.
   */
  async #moveOne (w: MoveWork, outer: AbortSignal): Promise<number[]> {
    const { stripe, moves } = w
    const { signal, clear } = combineSignals([outer], this.#init.stripeTimeoutMs)
    const what = `stripe ${stripe.index} of inode ${w.ino}`
    const log = this.#c.log
    // Planned from the walk's snapshot: a stripe whose holders changed since (another device's
    // repair or drain) is left to the next walk, before the copies and again before the record.
    const unchanged = async (): Promise<boolean> => {
      const now = await stripeNow(this.#c.meta, w, signal)
      return now != null && JSON.stringify(now.holders) === JSON.stringify(stripe.holders)
    }
    try {
      if (!await unchanged()) return []
      const byTarget = new Map<string, Array<{ index: number, item: FragmentItem }>>()
      for (const m of moves) {
        const cid = CID.parse(stripe.fragments[m.index])
        const bytes = await this.#c.store.get(cid, { signal })
        let list = byTarget.get(m.to)
        if (list == null) byTarget.set(m.to, list = [])
        list.push({ index: m.index, item: { cid, bytes } })
      }
      const refusals = await Promise.all([...byTarget].map(async ([target, list]) => {
        // Flushed by the target before this device lets its own (perhaps flushed) copy go.
        const res = await this.#c.fragments.putMany(target, list.map(l => l.item), { signal, sync: true })
        const bad = res.find((o): o is typeof o & { ok: false } => !o.ok)
        return bad == null ? undefined : `${this.#c.describe(target)}: ${bad.error.message}`
      }))
      const refused = refusals.find(r => r != null)
      if (refused != null) {
        log('%s: a moved fragment was refused (%s); the move is not recorded (the copies made are extra)', what, refused)
        return []
      }
      if (!await unchanged()) {
        log('%s: its holders changed during the move; the move is not recorded (the copies made are extra)', what)
        return []
      }
      const set: Array<[number, string, string[]]> = moves.map(m => [m.index, stripe.fragments[m.index], [m.to, this.#c.deviceId]])
      set.sort((a, b) => a[0] - b[0])
      await this.#c.meta.setHolders(w.ino, stripe.index, stripe.id, set, { signal })
      log.trace('%s: copied fragments %s to %s', what, moves.map(m => m.index).join(','), [...byTarget.keys()].map(d => this.#c.describe(d)).join(', '))
      return moves.map(m => m.index)
    } catch (err) {
      if (!outer.aborted) log('could not move fragments of %s: %s', what, (err as Error).message)
      return []
    } finally {
      clear()
    }
  }

  /**
   * The second step of a move: the fragments `indices` of `w`'s stripe still listed as
   * [new holder, this device] get the new holder alone, when the stripe has as many fragments on
   * distinct devices without this device's copies (another device may have put a fragment of it on
   * the same new holder meanwhile: this copy then stays, listed). Returns the indices let go.
   */
  async #letGo (w: MoveWork, indices: number[], signal: AbortSignal): Promise<number[]> {
    const self = this.#c.deviceId
    const what = `stripe ${w.stripe.index} of inode ${w.ino}`
    try {
      const now = await stripeNow(this.#c.meta, w, signal)
      if (now == null) return []
      const sets = now.fragments.map((_, i) => holdersOf(now, i, self))
      const going = indices.filter(i => sets[i].length === 2 && sets[i][1] === self && sets[i][0] !== self)
      if (going.length === 0) return []
      const after = sets.map((devices, i) => going.includes(i) ? devices.slice(0, 1) : devices)
      const distinct = (s: string[][]): number => matchDistinct(s.map((devices, index) => ({ index, devices })))
      if (distinct(after) < distinct(sets)) {
        this.#c.log('%s: another device put a fragment of it on the device fragments %s moved to meanwhile: this device keeps its copies', what, going.join(','))
        return []
      }
      await this.#c.meta.setHolders(w.ino, now.index, now.id, going.map(i => [i, now.fragments[i], after[i]]), { signal })
      this.fragmentsMoved += going.length
      return going
    } catch (err) {
      if (!signal.aborted) this.#c.log('could not finish moving fragments of %s: %s', what, (err as Error).message)
      return []
    }
  }

  /**
   * Frees the local copies of moved fragments, unless some stripe still names this device for one
   * (the same content elsewhere) or an undo record a late op could need holds it (tried again
   * later: `#toFree`). Returns how many it freed.
   */
  async #freeMoved (cids: Set<string>, signal: AbortSignal): Promise<number> {
    const self = this.#c.deviceId
    this.#freeTriedMs = Date.now()
    for await (const { stripe } of this.#c.meta.allStripes({ signal })) {
      stripe.fragments.forEach((cid, i) => { if (cids.has(cid) && holdersOf(stripe, i, self).includes(self)) { cids.delete(cid); this.#toFree.delete(cid) } })
    }
    // An undo record may bring back a manifest that names this device: kept until it is compacted.
    // The move's own `holders` op has one (the stripe before it), so this is the common case
    // without the peers' vectors.
    if (this.#c.meta.heldFragments != null) {
      const vectors = this.#c.peerVectors?.()
      for await (const cid of this.#c.meta.heldFragments({ signal, ...(vectors != null ? { vectors } : {}) })) {
        if (cids.delete(cid) && this.#toFree.size < MAX_TO_FREE) this.#toFree.add(cid)
      }
    }
    let freed = 0
    for (const cid of cids) {
      this.#toFree.delete(cid)
      try {
        await this.#c.store.delete(CID.parse(cid), { signal })
        freed++
      } catch (err) {
        if (signal.aborted) return freed
        this.#c.log('could not free moved fragment %s: %s', cid, (err as Error).message)
      }
    }
    return freed
  }
}
