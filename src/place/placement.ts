/**
 * Which device gets which fragment of a stripe. Pure: devices and their state in, a plan out.
 *
 * 1. Devices are ranked by weighted rendezvous hashing on the stripe id (weight = free bytes).
 * 2. The stripe's devices are the first n *available* ones (online, healthy, with room for a
 *    fragment), this device always among them when it has room. With fewer than n available,
 *    known devices that are offline or failing now (but were seen recently and had room) fill the
 *    set up to n: they are where the stripe *should* go.
 * 3. The n fragments are spread over that set as evenly as the devices' room allows (counts differ
 *    by at most one), and no device takes more than `stripeCap` of them: k − 1 whenever enough
 *    devices are available to keep every one below k, else ⌈n / available⌉. So no device holds k
 *    fragments of a stripe while another could take one; when room runs out on all but a few
 *    devices the write gets ENOSPC rather than a stripe one device could lose alone.
 * 4. A fragment meant for a device that is not available now goes to the available device of the
 *    set holding the fewest fragments, and is queued for its own device (the shortfall).
 * 5. When the fragments stored now would not survive the loss of any one device (too few devices
 *    with room: 4-of-6 on 2 devices), the writer keeps k of them (keeper.ts), so the stripe is
 *    never less available than on the writer alone.
 */
import { loadOf, lossesSurvivable, moveToKeeper } from './keeper.js'
import { rank } from './rendezvous.js'
import type { StripePolicy } from './types.js'

/** A device as placement sees it. */
export interface Candidate {
  id: string
  /** Free bytes now (announced free minus what was sent since): the rendezvous weight and the room. */
  freeBytes: number
  /** Takes fragments now: this device, or online and not failing. */
  available: boolean
  /** This device (the writer). */
  self: boolean
  /** The failure domain it declared (a machine, rack or house), if any: see `domainSpread`. */
  domain?: string
}

/** Where one stripe's fragments go. */
export interface PlacementPlan {
  /** The device of each fragment index. */
  devices: string[]
  /** Fragment index → the device it is meant for, which could not take it now (to spread later). */
  queued: Map<number, string>
  /** Fragments no available device had room for (the write must fail with ENOSPC when > 0). */
  unplaced: number
}

/**
 * Most fragments of one stripe a device may hold when `available` devices can take fragments (with
 * room or not): k − 1 when ⌈n / (k − 1)⌉ devices are available, else ⌈n / available⌉ (a lone
 * device holds all n).
 */
export function stripeCap (policy: StripePolicy, available: number): number {
  const even = Math.ceil(policy.n / Math.max(1, available))
  if (policy.k <= 1) return even
  return available >= Math.ceil(policy.n / (policy.k - 1)) ? Math.max(even, policy.k - 1) : even
}

/** How many fragments `c` can still take, given `load` fragments of this stripe already on it. */
export function roomOf (c: Candidate, fragmentBytes: number, load = 0): number {
  return Math.floor(c.freeBytes / Math.max(1, fragmentBytes)) - load
}

/**
 * Assigns `count` fragment slots to `devices` (in rank order) one round at a time, so counts differ
 * by at most one where room allows. Returns the device of each slot, in slot order.
 */
function waterFill (devices: Candidate[], count: number, fragmentBytes: number, load: Map<string, number>, cap: number): Array<string | undefined> {
  const out: Array<string | undefined> = []
  while (out.length < count) {
    const open = devices.filter(d => (load.get(d.id) ?? 0) < cap && roomOf(d, fragmentBytes, load.get(d.id) ?? 0) >= 1)
    if (open.length === 0) break
    // One round: every device with room at the lowest count takes one fragment, in rank order.
    const min = Math.min(...open.map(d => load.get(d.id) ?? 0))
    for (const d of open) {
      if (out.length >= count) break
      const l = load.get(d.id) ?? 0
      if (l > min) continue
      load.set(d.id, l + 1)
      out.push(d.id)
    }
  }
  while (out.length < count) out.push(undefined)
  return out
}

/**
 * Failure domains (docs/security.md): devices that declared one domain fail together, so they count
 * as one device for the "fewer than k" rule. Of `available` (in rank order) the first device of
 * each domain is kept (this device in its own; a device without a domain is its own), when that
 * leaves enough domains to keep each below k fragments; else all of `available` (the rule cannot
 * hold, and spreading over devices is the best left). Unchanged when no device declared a domain.
 */
export function domainSpread (policy: StripePolicy, available: Candidate[]): Candidate[] {
  if (!available.some(c => c.domain != null && c.domain !== '')) return available
  const seen = new Set<string>()
  const keep = new Set<Candidate>()
  for (const c of [...available.filter(c => c.self), ...available.filter(c => !c.self)]) {
    const d = c.domain != null && c.domain !== '' ? `domain:${c.domain}` : `device:${c.id}`
    if (seen.has(d)) continue
    seen.add(d)
    keep.add(c)
  }
  return keep.size >= Math.ceil(policy.n / Math.max(1, policy.k - 1)) ? available.filter(c => keep.has(c)) : available
}

/** The plan for one stripe of `fragmentBytes`-byte fragments. */
export function planPlacement (stripeId: string, policy: StripePolicy, fragmentBytes: number, candidates: Candidate[]): PlacementPlan {
  const ranked = rank(stripeId, candidates.map(c => ({ ...c, weight: c.freeBytes }))).filter(c => roomOf(c, fragmentBytes) >= 1)
  const roomy = ranked.filter(c => c.available)
  const available = domainSpread(policy, roomy)
  let chosen = available.slice(0, policy.n)
  const self = available.find(c => c.self)
  if (self != null && !chosen.includes(self)) chosen = [...chosen.slice(0, policy.n - 1), self]
  if (chosen.length < policy.n) chosen = [...chosen, ...ranked.filter(c => !c.available).slice(0, policy.n - chosen.length)]
  chosen = ranked.filter(c => chosen.includes(c))

  const cap = stripeCap(policy, available === roomy ? candidates.filter(c => c.available).length : available.length)
  const ideal = waterFill(chosen, policy.n, fragmentBytes, new Map(), Math.min(cap, Math.ceil(policy.n / Math.max(1, chosen.length))))
  const devices: string[] = new Array(policy.n)
  const queued = new Map<number, string>()
  const actual = chosen.filter(c => c.available)
  const load = new Map<string, number>()
  const away: number[] = []
  ideal.forEach((id, i) => {
    const c = chosen.find(x => x.id === id)
    if (c?.available === true) {
      devices[i] = c.id
      load.set(c.id, (load.get(c.id) ?? 0) + 1)
    } else {
      away.push(i)
      if (c != null) queued.set(i, c.id)
    }
  })
  // Fragments of unavailable devices double up on the least-loaded available ones.
  const fallback = waterFill(actual, away.length, fragmentBytes, load, cap)
  let unplaced = 0
  away.forEach((index, j) => {
    const id = fallback[j]
    if (id == null) unplaced++
    else devices[index] = id
  })
  // Too few devices for the stripe to survive one loss: the writer keeps k (keeper.ts).
  if (unplaced === 0 && self != null) moveToKeeper(devices, policy, self.id, roomOf(self, fragmentBytes))
  return { devices, queued, unplaced }
}

/**
 * Another device for a fragment whose device failed: an available device not in `exclude` with
 * room, preferring one that holds none of this stripe's fragments yet (rendezvous order), else the
 * least loaded, never past `cap` fragments of the stripe. Undefined when none can take it.
 */
export function pickFallback (stripeId: string, fragmentBytes: number, candidates: Candidate[], load: Map<string, number>, exclude: Set<string>, cap: number): string | undefined {
  const usable = rank(stripeId, candidates.map(c => ({ ...c, weight: c.freeBytes })))
    .filter(c => c.available && !exclude.has(c.id) && (load.get(c.id) ?? 0) < cap && roomOf(c, fragmentBytes, load.get(c.id) ?? 0) >= 1)
  if (usable.length === 0) return undefined
  const fresh = usable.find(c => (load.get(c.id) ?? 0) === 0)
  if (fresh != null) return fresh.id
  return usable.reduce((best, c) => (load.get(c.id) ?? 0) < (load.get(best.id) ?? 0) ? c : best).id
}

/**
 * Device losses (any of them) a new stripe survives when `devices` equal devices with room take
 * it (0 when its layout cannot survive one: a small swarm's writer keeps k, keeper.ts).
 */
export function lossesForNewStripes (policy: StripePolicy, devices: number): number {
  const candidates = Array.from({ length: Math.max(1, devices) }, (_, i) => ({ id: `d${i}`, freeBytes: 2 ** 40, available: true, self: i === 0 }))
  return lossesSurvivable(loadOf(planPlacement('new stripe', policy, 1, candidates).devices), policy)
}

/** Fewest devices with which new stripes survive the loss of one (Infinity when k = n). */
export function devicesForOneLoss (policy: StripePolicy): number {
  if (policy.n <= policy.k) return Infinity
  for (let d = 2; d <= policy.n; d++) if (lossesForNewStripes(policy, d) >= 1) return d
  return Infinity
}
