/**
 * The pure core of repair (docs/repair.md): device states, who repairs a stripe, what a stripe
 * needs, and where its rebuilt fragments go. No I/O: the repairer (repairer.ts) feeds it the
 * journal's stripes and the membership view.
 *
 * - A device is `online`, `grace` (offline, seen within the grace period: it is expected back and
 *   the spread queue catches it up) or `gone` (offline for longer, or declared gone). The grace is
 *   counted from the later of its last-seen time and this device's start, so a device that just
 *   started (or slept) declares no one gone before it had a whole grace to find them.
 * - Each stripe has one responsible device: the first of the online devices in the stripe's
 *   rendezvous order (equal weights), so work spreads with no coordinator and moves on when that
 *   device goes. Two devices whose views differ for a moment may both repair a stripe: the journal
 *   orders their `holders` ops and the earlier copy is an extra copy, never a loss.
 * - Margin = fragments reachable on online devices − k. At margin 0 every fragment not on an online
 *   device is rebuilt at once (no grace); otherwise only fragments whose holders are all gone or
 *   bad (`lost`), and fragments left doubled up on one device by a spread whose target is gone.
 */
import { holdersOf, pickFallback, preferKeeper, rank, roomOf, stripeCap, type Candidate } from '../place/index.js'

export type DeviceState = 'online' | 'grace' | 'gone'

/** What deviceStates needs of a peer. */
export interface PeerSeen {
  id: string
  online: boolean
  /** Last heard from (epoch ms; 0 = never). */
  lastSeenMs: number
}

/**
 * The state of this device, every peer in `peers` and every other id in `known` (holders never
 * met). `startedMs`: when this device started, or woke from a suspension (its view of the others
 * is stale until it hears from them again). `settleMs`: a peer offline for less than this (counted
 * the same way) still counts as online (a blip of a loaded machine or a short SIGSTOP must not make
 * stripes look at k and start urgent repairs).
 */
export function deviceStates (self: string, peers: PeerSeen[], known: Iterable<string>, opts: { nowMs: number, startedMs: number, graceMs: number, settleMs?: number, declaredGone?: ReadonlySet<string> }): Map<string, DeviceState> {
  const out = new Map<string, DeviceState>()
  const since = (lastSeenMs: number): number => opts.nowMs - Math.max(lastSeenMs, opts.startedMs)
  for (const p of peers) {
    if (p.id === self) continue
    // Offline since the later of its last-seen time and this device's start (or wake from sleep).
    const online = p.online || since(p.lastSeenMs) < (opts.settleMs ?? 0)
    out.set(p.id, opts.declaredGone?.has(p.id) === true ? 'gone' : online ? 'online' : since(p.lastSeenMs) > opts.graceMs ? 'gone' : 'grace')
  }
  for (const id of known) {
    if (id === self || out.has(id)) continue
    out.set(id, opts.declaredGone?.has(id) === true || since(0) > opts.graceMs ? 'gone' : 'grace')
  }
  out.set(self, 'online')
  return out
}

/** The device responsible for repairing `stripeId`: first of `online` in rendezvous order. */
export function responsibleFor (stripeId: string, online: string[]): string | undefined {
  return rank(stripeId, online.map(id => ({ id, weight: 1 })))[0]?.id
}

/** The parts of a stripe the plan reads (the journal's StripeRef fits). */
export interface StripeLike {
  id: string
  k: number
  n: number
  length: number
  fragments: string[]
  holders: string[][]
}

/** What one stripe needs. */
export interface StripePlan {
  /** Fragments reachable on online devices (indices with an online, not bad holder) − k; negative: unreadable now. */
  margin: number
  /** Fragments on distinct live (online or grace) devices, bad copies excluded. */
  distinct: number
  /** Fragment indices to rebuild and place now (empty: nothing to do now). */
  place: number[]
  /** Holders each kept fragment is on (indices not in `place`): live, not bad. */
  kept: Map<number, string[]>
  /**
   * For placed fragments whose holders are only in their grace (margin 0): those holders. They stay
   * listed after the new holder, so a device that returns counts again (as a queued spread does).
   */
  waitingFor: Map<number, string[]>
}

/** Largest number of fragments on distinct devices (bipartite matching); `matched` gets index → device. */
export function matchDistinct (sets: Array<{ index: number, devices: string[] }>, matched = new Map<number, string>()): number {
  const owner = new Map<string, number>()
  const augment = (i: number, devices: string[], seen: Set<string>): boolean => {
    for (const d of devices) {
      if (seen.has(d)) continue
      seen.add(d)
      const o = owner.get(d)
      if (o == null || augment(o, sets.find(s => s.index === o)?.devices ?? [], seen)) { owner.set(d, i); return true }
    }
    return false
  }
  let count = 0
  for (const s of sets) if (augment(s.index, s.devices, new Set())) count++
  for (const [d, i] of owner) matched.set(i, d)
  return count
}

/**
 * What `stripe` needs given the device states. `bad`: "index device" pairs whose copy is known
 * missing or corrupt (read-repair, scrub): counted as absent. `draining`: devices being emptied
 * (`palm drain`): their copies still count (they are read from until the new holders are recorded,
 * so no stripe drops below n on the way) but every fragment only they hold is placed elsewhere.
 */
export function planStripe (stripe: StripeLike, self: string, states: ReadonlyMap<string, DeviceState>, bad: ReadonlySet<string> = new Set(), draining: ReadonlySet<string> = new Set()): StripePlan {
  const state = (d: string): DeviceState => states.get(d) ?? 'gone'
  const live: Array<{ index: number, devices: string[] }> = []
  let reachable = 0
  const lost: number[] = []
  const waiting: number[] = []
  const touchedByGone = new Set<number>()
  const drained: number[] = []
  const waitingFor = new Map<number, string[]>()
  for (let i = 0; i < stripe.n; i++) {
    const holders = [...new Set(holdersOf(stripe, i, self))]
    const good = holders.filter(d => !bad.has(`${i} ${d}`))
    if (good.length < holders.length || holders.some(d => state(d) === 'gone')) touchedByGone.add(i)
    const liveHolders = good.filter(d => state(d) !== 'gone')
    if (liveHolders.some(d => state(d) === 'online')) reachable++
    else if (liveHolders.length > 0) { waiting.push(i); waitingFor.set(i, liveHolders) }
    if (liveHolders.length === 0) lost.push(i)
    else live.push({ index: i, devices: liveHolders })
    if (liveHolders.length > 0 && liveHolders.every(d => draining.has(d))) drained.push(i)
  }
  const matched = new Map<number, string>()
  const distinct = matchDistinct(live, matched)
  // Doubled up on a device while the device it was meant for is gone: the spreader will never fix it.
  const crowded = live.filter(s => !matched.has(s.index) && touchedByGone.has(s.index)).map(s => s.index)
  const margin = reachable - stripe.k
  // An online device holding k fragments reads the stripe alone (a small swarm's keeper): copies of
  // fragments whose devices only sleep would protect nothing more, so they wait like at margin ≥ 1.
  const perDevice = new Map<string, number>()
  for (const s of live) for (const d of new Set(s.devices)) if (state(d) === 'online') perDevice.set(d, (perDevice.get(d) ?? 0) + 1)
  const soleReader = [...perDevice.values()].some(c => c >= stripe.k)
  let place: number[] = []
  if (margin >= 0) place = margin === 0 && !soleReader ? [...lost, ...waiting, ...crowded, ...drained] : [...lost, ...crowded, ...drained]
  place = [...new Set(place)].sort((a, b) => a - b)
  const kept = new Map<number, string[]>()
  for (const s of live) if (!place.includes(s.index)) kept.set(s.index, s.devices)
  for (const i of [...waitingFor.keys()]) if (!place.includes(i)) waitingFor.delete(i)
  return { margin, distinct, place, kept, waitingFor }
}

/**
 * Where each fragment in `plan.place` goes: an available device that holds no kept fragment of the
 * stripe (rendezvous order on the stripe id, weight = free bytes), else the least loaded one under
 * placement's per-stripe cap (never two fragments on one device while another could take one).
 * `candidates` must not include gone devices. Indices no device can take are left out.
 */
export function pickTargets (stripe: StripeLike, plan: StripePlan, fragmentBytes: number, candidates: Candidate[]): Map<number, string> {
  const load = new Map<string, number>()
  for (const devices of plan.kept.values()) {
    // A kept fragment with several holders loads the first live one (the one reads use first).
    const d = devices[0]
    load.set(d, (load.get(d) ?? 0) + 1)
  }
  const cap = stripeCap({ k: stripe.k, n: stripe.n }, candidates.filter(c => c.available).length)
  const out = new Map<number, string>()
  // Too few devices to survive one loss: this device keeps k (place's small-swarm rule).
  const keeper = candidates.find(c => c.self && c.available)
  for (const index of plan.place) {
    const choice = pickFallback(stripe.id, fragmentBytes, candidates, load, new Set(), cap)
    const target = preferKeeper(choice, load, stripe, keeper?.id, keeper == null ? 0 : roomOf(keeper, fragmentBytes))
    if (target == null) continue
    load.set(target, (load.get(target) ?? 0) + 1)
    out.set(index, target)
  }
  return out
}

/** Stripes below n by margin, for status: margin 0 (at k), 1 (k + 1), 2 or more, and unreadable now. */
export interface MarginCounts {
  atK: number
  atK1: number
  more: number
  unreadable: number
}

/** Adds one stripe's plan to `counts` (a stripe with n fragments on distinct online devices counts nowhere). */
export function countMargin (counts: MarginCounts, stripe: Pick<StripeLike, 'k' | 'n'>, plan: StripePlan): void {
  if (plan.margin < 0) counts.unreadable++
  else if (plan.margin + stripe.k >= stripe.n && plan.distinct >= stripe.n && plan.place.length === 0) return
  else if (plan.margin === 0) counts.atK++
  else if (plan.margin === 1) counts.atK1++
  else counts.more++
}
