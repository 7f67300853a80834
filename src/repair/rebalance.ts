/**
 * Rebalance (docs/repair.md "Rebalance"): the pure plan of which fragments this device moves off
 * itself, stripe by stripe, when a device joins or frees space, or when the swarm has grown past a
 * small swarm's layout (the writer keeping k, place/keeper.ts). Only this device's own copies move
 * (fragments whose one holder is this device), and only on stripes it is the mover of (`moverOf`:
 * one device per stripe, so two devices never move one stripe's fragments at once). It has the
 * bytes (no decode), and it frees its own copy after the new holder is recorded, so no other
 * device's delete guard is involved.
 *
 * A stripe's moves are taken as one set (copied, then recorded by one `holders` op, then the old
 * copies freed): a set is kept only when the stripe's layout after it is at least as protected as
 * before — as many device losses survivable, as many fragments on distinct devices, and a stripe
 * that read from one device alone (the keeper) either still does or now survives the loss of any
 * one device — so no move lowers protection, even between two moves of one stripe.
 *
 * Two reasons move a fragment to a device holding fewer fragments of the stripe:
 * - **spread**: this device holds at least 2 more of the stripe's fragments than that device (a
 *   small swarm's layout once more devices exist, a doubled-up fragment);
 * - **usage**: this device is fuller than the swarm's mean (used / capacity) by more than `slack`,
 *   and the target is below the mean and holds none of the stripe. Each device sends each target
 *   below the mean its share of that target's deficit (in proportion to its own surplus among all
 *   devices' surpluses), so devices planning at the same time fill the newcomer up to the mean,
 *   never past it (a fragment goes only when it fits the budget whole), and no device that
 *   received becomes one that sends back.
 */
import { holdersOf, loadOf, lossesSurvivable, rank, survivesOneLoss } from '../place/index.js'
import { matchDistinct, type StripeLike } from './plan.js'

/** A device that may take fragments (online, not draining, not declared gone). */
export interface RebalanceDevice {
  id: string
  usedBytes: number
  capacityBytes: number
  /** Free bytes now (bounded by its quota). */
  freeBytes: number
}

/** One fragment this device moves: its index and the device it goes to. */
export interface Move {
  index: number
  to: string
}

export interface RebalanceInit {
  /** Usage difference (fraction of capacity) below which devices count as even. Default 0.05. */
  slack?: number
}

/**
 * The one device that moves a stripe's fragments: the holder with the most of them (ties: first in
 * the stripe's rendezvous order), so two devices never move fragments of one stripe at once.
 */
export function moverOf (stripeId: string, load: ReadonlyMap<string, number>): string | undefined {
  const most = Math.max(0, ...load.values())
  return rank(stripeId, [...load].filter(([, c]) => c === most).map(([id]) => ({ id, weight: 1 })))[0]?.id
}

/** Plans moves stripe by stripe over one walk, keeping projected usage. */
export class RebalancePlanner {
  readonly #self: string
  readonly #devices: Map<string, RebalanceDevice>
  /** The swarm's mean fill (used / capacity over the devices). */
  readonly #mean: number
  /**
   * Bytes this device may still send each device below the mean: that device's deficit times this
   * device's share of all surpluses, so devices planning at once fill it to the mean, not past it.
   * Empty unless this device is fuller than the mean by more than the slack.
   */
  readonly #budget = new Map<string, number>()
  /** Fragment bytes planned to move (for status). */
  plannedBytes = 0

  constructor (self: string, devices: RebalanceDevice[], init: RebalanceInit = {}) {
    this.#self = self
    this.#devices = new Map(devices.map(d => [d.id, { ...d }]))
    const capacity = devices.reduce((s, d) => s + Math.max(0, d.capacityBytes), 0)
    this.#mean = capacity > 0 ? devices.reduce((s, d) => s + d.usedBytes, 0) / capacity : 0
    const surplus = (d: RebalanceDevice): number => d.usedBytes - this.#mean * d.capacityBytes
    const me = this.#devices.get(self)
    if (me != null && this.#fill(self) - this.#mean > (init.slack ?? 0.05)) {
      const above = devices.reduce((s, d) => s + Math.max(0, surplus(d)), 0)
      for (const d of devices) if (surplus(d) < 0) this.#budget.set(d.id, -surplus(d) * surplus(me) / above)
    }
  }

  #fill (id: string): number {
    const d = this.#devices.get(id)
    return d == null || d.capacityBytes <= 0 ? 1 : d.usedBytes / d.capacityBytes
  }

  /**
   * The moves of `stripe`'s fragments off this device (empty: none). `online`: ids of online
   * devices (every holder of the stripe must be one: nothing moves while a holder is away).
   */
  plan (stripe: StripeLike, fragmentBytes: number, online: ReadonlySet<string>): Move[] {
    const self = this.#self
    const me = this.#devices.get(self)
    if (me == null) return []
    const holders = stripe.fragments.map((_, i) => [...new Set(holdersOf(stripe, i, self))])
    if (holders.some(h => h.length === 0 || h.some(d => !online.has(d)))) return []
    // Layout: the first holder of each fragment (the one that surely has it).
    const layout = holders.map(h => h[0])
    const before = loadOf(layout)
    if (moverOf(stripe.id, before) !== self) return []
    const policy = { k: stripe.k, n: stripe.n }
    const after = layout.slice()
    const moves: Move[] = []
    const mine = holders.map((h, i) => h.length === 1 && h[0] === self ? i : -1).filter(i => i >= 0)
    for (const index of mine) {
      const load = loadOf(after)
      const here = load.get(self) ?? 0
      const target = this.#target(load, here, fragmentBytes)
      if (target == null) continue
      after[index] = target
      moves.push({ index, to: target })
    }
    if (moves.length === 0 || !this.#noWorse(before, loadOf(after), holders, after, policy)) return []
    for (const m of moves) {
      const budget = this.#budget.get(m.to)
      if (budget != null) this.#budget.set(m.to, budget - fragmentBytes)
      const to = this.#devices.get(m.to) as RebalanceDevice
      to.usedBytes += fragmentBytes
      to.freeBytes -= fragmentBytes
      me.usedBytes -= fragmentBytes
      me.freeBytes += fragmentBytes
    }
    this.plannedBytes += moves.length * fragmentBytes
    return moves
  }

  /** The device one of this device's fragments should go to, given the stripe's load now. */
  #target (load: ReadonlyMap<string, number>, here: number, fragmentBytes: number): string | undefined {
    let best: string | undefined
    let bestKey = Infinity
    for (const d of this.#devices.values()) {
      if (d.id === this.#self || d.freeBytes < fragmentBytes) continue
      const there = load.get(d.id) ?? 0
      const spread = here - there >= 2
      // Usage: each device moves only its own surplus over the mean, to devices below it, so devices
      // planning at once do not all fill the newcomer past the others.
      // A fragment goes only when it fits the budget whole: the target ends at most at the mean and
      // never becomes a pusher itself (no back-and-forth between two devices).
      const usage = there === 0 && here >= 1 && (this.#budget.get(d.id) ?? 0) >= fragmentBytes
      if (!spread && !usage) continue
      // Fewest fragments of the stripe first, then the emptiest.
      const key = there * 10 + this.#fill(d.id)
      if (key < bestKey) { best = d.id; bestKey = key }
    }
    return best
  }

  /** The layout after the moves is at least as protected as before (see the module comment). */
  #noWorse (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, holders: string[][], layout: string[], policy: { k: number, n: number }): boolean {
    if (lossesSurvivable(after, policy) < lossesSurvivable(before, policy)) return false
    const distinct = (sets: Array<{ index: number, devices: string[] }>): number => matchDistinct(sets)
    if (distinct(layout.map((d, index) => ({ index, devices: [d] }))) < distinct(holders.map((devices, index) => ({ index, devices })))) return false
    const soleBefore = [...before.values()].some(c => c >= policy.k)
    const soleAfter = [...after.values()].some(c => c >= policy.k)
    return !soleBefore || soleAfter || survivesOneLoss(after, policy)
  }
}
