/**
 * The protection numbers of `palm status`, from the journal and the membership view, without
 * walking the tree on every call. A walk of the journal's stripes folds them into *layouts* (k, n
 * and the holder set of each fragment, devices as small numbers): a handful for a healthy swarm.
 * Each status call evaluates the layouts against the devices online now. The walk is redone only
 * when the journal changed and the last walk is older than `minIntervalMs` (and at least 20 times
 * its own duration), and a status call waits for it at most `waitMs`.
 *
 * While fragments wait to be spread, a fragment with two holders counts only on the first (the one
 * that acknowledged it; the second is where it is meant to go), so the numbers never overstate.
 */
import type { MetaStore, StripeRef } from '../meta/index.js'
import { holdersOf } from '../place/index.js'
import type { ComponentLogger, Logger } from '../util/logger.js'

/** Settings of the survey. */
export interface ProtectionSurveyInit {
  /** Shortest time between two walks of the journal, ms. Default 5000. */
  minIntervalMs?: number
  /** Longest a status call waits for a walk, ms (then it gets the previous numbers). Default 2000. */
  waitMs?: number
  /** Most distinct layouts kept; stripes beyond count as unprotected. Default 100000. */
  maxLayouts?: number
}

/** What the survey reads. */
export interface ProtectionSurveyComponents {
  meta: Pick<MetaStore, 'allStripes' | 'stats'>
  deviceId: string
  /** Ids of the peers online now (not this device). */
  onlinePeers: () => string[]
  /** Fragments waiting to be spread. */
  pendingSpread: () => number
  logger: ComponentLogger
}

/** The numbers behind the protection sentence. */
export interface ProtectionNumbers {
  /** Devices online now, this one included. */
  onlineDevices: number
  /** Distinct devices holding fragments of any stripe (online or not). */
  holderDevices: number
  /** Devices whose loss (any of them) every readable stripe survives now. */
  deviceLossesSurvivable: number
  /** Stripes with fewer than n fragments on distinct online devices. */
  stripesBelowN: number
  /** Stripes with at least k fragments on online devices. */
  stripesReachable: number
  stripesTotal: number
  pendingSpread: number
}

interface Layout {
  k: number
  n: number
  /** Holder devices of each fragment (device numbers). */
  holders: number[][]
  count: number
}

/** Largest number of fragments that sit on distinct devices (bipartite matching, augmenting paths). */
function distinctDevices (sets: number[][]): number {
  const owner = new Map<number, number>()
  const augment = (i: number, seen: Set<number>): boolean => {
    for (const d of sets[i]) {
      if (seen.has(d)) continue
      seen.add(d)
      const o = owner.get(d)
      if (o == null || augment(o, seen)) { owner.set(d, i); return true }
    }
    return false
  }
  let matched = 0
  for (let i = 0; i < sets.length; i++) if (augment(i, new Set())) matched++
  return matched
}

/** Fragments left when the devices in `lost` are gone. */
function left (sets: number[][], lost: Set<number>): number {
  return sets.filter(s => s.some(d => !lost.has(d))).length
}

/** How many devices may be lost (any of them) while ≥ k fragments remain. Exact up to 16 devices, greedy beyond. */
function survivable (sets: number[][], k: number): number {
  const devices = [...new Set(sets.flat())]
  if (devices.length > 16) {
    // Greedy worst case: repeatedly remove the device whose loss removes the most fragments.
    const lost = new Set<number>()
    while (lost.size < devices.length) {
      const worst = devices.filter(d => !lost.has(d)).reduce((a, b) => left(sets, new Set([...lost, a])) <= left(sets, new Set([...lost, b])) ? a : b)
      lost.add(worst)
      if (left(sets, lost) < k) return lost.size - 1
    }
    return devices.length
  }
  for (let d = 1; d <= devices.length; d++) {
    // Every subset of d devices, as bit masks.
    for (let mask = 0; mask < 1 << devices.length; mask++) {
      if (popcount(mask) !== d) continue
      const lost = new Set(devices.filter((_, i) => (mask & (1 << i)) !== 0))
      if (left(sets, lost) < k) return d - 1
    }
  }
  return devices.length
}

function popcount (x: number): number {
  let n = 0
  for (; x !== 0; x &= x - 1) n++
  return n
}

export class ProtectionSurvey {
  readonly #c: ProtectionSurveyComponents
  readonly #minIntervalMs: number
  readonly #waitMs: number
  readonly #maxLayouts: number
  readonly #log: Logger
  readonly #deviceNumbers = new Map<string, number>()
  #layouts = new Map<string, Layout>()
  #unmapped = 0
  #walkedOps = -1
  #walkEndedMs = 0
  #walkMs = 0
  #walking?: Promise<void>

  constructor (init: ProtectionSurveyInit, components: ProtectionSurveyComponents) {
    this.#c = components
    this.#minIntervalMs = init.minIntervalMs ?? 5000
    this.#waitMs = init.waitMs ?? 2000
    this.#maxLayouts = init.maxLayouts ?? 100_000
    this.#log = components.logger.forComponent('palm:repair:survey')
  }

  #number (device: string): number {
    let n = this.#deviceNumbers.get(device)
    if (n == null) this.#deviceNumbers.set(device, n = this.#deviceNumbers.size)
    return n
  }

  #holdersOf (s: StripeRef): number[][] {
    return s.fragments.map((_, i) => {
      const h = holdersOf(s, i, this.#c.deviceId)
      return h.map(d => this.#number(d))
    })
  }

  async #walk (): Promise<void> {
    const started = performance.now()
    const ops = this.#c.meta.stats().ops
    const layouts = new Map<string, Layout>()
    let unmapped = 0
    for await (const { stripe } of this.#c.meta.allStripes()) {
      // No number depends on which fragment a device holds, only on the holder sets: sorted, the
      // stripes of one device set share a layout (rendezvous order would make each permutation one).
      const sets = this.#holdersOf(stripe).map(h => ({ h, text: h.join(',') })).sort((a, b) => a.text < b.text ? -1 : a.text > b.text ? 1 : 0)
      const holders = sets.map(x => x.h)
      const key = `${stripe.k}/${stripe.n}|${sets.map(x => x.text).join('|')}`
      const l = layouts.get(key)
      if (l != null) l.count++
      else if (layouts.size < this.#maxLayouts) layouts.set(key, { k: stripe.k, n: stripe.n, holders, count: 1 })
      else unmapped++
    }
    this.#layouts = layouts
    this.#unmapped = unmapped
    this.#walkedOps = ops
    this.#walkEndedMs = Date.now()
    this.#walkMs = performance.now() - started
    this.#log.trace('surveyed the journal in %d ms: %d layouts', Math.round(this.#walkMs), layouts.size)
  }

  /** Starts a walk unless one runs; resolves when it ends. */
  async #refresh (): Promise<void> {
    this.#walking ??= this.#walk().finally(() => { this.#walking = undefined })
    await this.#walking
  }

  /** The numbers now (walking the journal first when it changed and enough time passed). */
  async numbers (): Promise<ProtectionNumbers> {
    if (this.#walkedOps < 0) {
      await this.#refresh()
    } else if (this.#c.meta.stats().ops !== this.#walkedOps && Date.now() - this.#walkEndedMs >= Math.max(this.#minIntervalMs, 20 * this.#walkMs)) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.#refresh().catch(err => { this.#log.error('surveying the journal failed: %e', err) }),
        new Promise(resolve => { timer = setTimeout(resolve, this.#waitMs) })
      ])
      clearTimeout(timer)
    }
    return this.#evaluate()
  }

  #evaluate (): ProtectionNumbers {
    const online = new Set([this.#number(this.#c.deviceId), ...this.#c.onlinePeers().map(id => this.#number(id))])
    const pendingSpread = this.#c.pendingSpread()
    const holders = new Set<number>()
    for (const l of this.#layouts.values()) for (const h of l.holders) for (const d of h) holders.add(d)
    const out: ProtectionNumbers = { onlineDevices: online.size, holderDevices: holders.size, deviceLossesSurvivable: Infinity, stripesBelowN: this.#unmapped, stripesReachable: 0, stripesTotal: this.#unmapped, pendingSpread }
    if (this.#unmapped > 0) out.deviceLossesSurvivable = 0
    for (const l of this.#layouts.values()) {
      out.stripesTotal += l.count
      // Waiting to be spread: only the first holder surely has it.
      const sets = l.holders.map(h => (pendingSpread > 0 ? h.slice(0, 1) : h).filter(d => online.has(d)))
      if (sets.filter(s => s.length > 0).length < l.k) continue
      out.stripesReachable += l.count
      if (distinctDevices(sets) < l.n) out.stripesBelowN += l.count
      out.deviceLossesSurvivable = Math.min(out.deviceLossesSurvivable, survivable(sets, l.k))
    }
    if (!Number.isFinite(out.deviceLossesSurvivable)) out.deviceLossesSurvivable = 0
    return out
  }
}
