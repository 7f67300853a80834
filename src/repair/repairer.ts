/**
 * The repairer: rebuilds the fragments of devices gone past their grace, of stripes down to k,
 * and of copies read-repair or scrub found bad, with no operator (docs/repair.md).
 *
 * Every `intervalMs` (sooner after a change: a device's state, a suspect fragment) it walks the
 * journal's stripes and plans each (plan.ts). It repairs the stripes it is responsible for
 * (rendezvous over the online devices) and every stripe with a fragment it found bad itself, in
 * margin order: stripes at k first, then k + 1, both at full speed; the rest under the
 * `bytesPerSecond` budget. A repair gathers any k fragments through the pool's retrieval (verified),
 * rebuilds only the fragments to place from them (Reed-Solomon, without opening the package; each
 * checked against the CID the journal names), stores them on their new devices, and records the new
 * holders with a `holders` op.
 *
 * A device in its grace is not rebuilt (the spread queue catches it up); a SIGSTOPped or sleeping
 * device flapping within its grace never starts work unless a stripe is down to k. Scrub re-hashes
 * the local store on its own schedule, at a bounded rate; what it finds bad is rebuilt. A walk that
 * finds no repair to do hands rebalance's moves, planned as it went, to the mover (mover.ts).
 */
import { readdir } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { fragmentLengthFor, type Fragment } from '../chunk/index.js'
import type { MetaStore, StripeRef } from '../meta/index.js'
import type { FragmentClient, FragmentItem, Membership } from '../net/index.js'
import { holdersOf, type BadFragment, type Candidate, type FragmentRebuilder, type PlacedStripe, type StripeIO } from '../place/index.js'
import { scrubStore, type FragmentStore, type ScrubReport } from '../store/index.js'
import { IoError } from '../errors.js'
import { combineSignals, delay, type AbortOptions } from '../util/abort.js'
import type { ComponentLogger, Logger } from '../util/logger.js'
import { repeatingTask, type RepeatingTask } from '../util/repeating-task.js'
import { HoldersRecorder } from './holders-recorder.js'
import { Mover } from './mover.js'
import { countMargin, deviceStates, pickTargets, planStripe, responsibleFor, type DeviceState, type MarginCounts, type StripePlan } from './plan.js'
import type { RebalanceDevice } from './rebalance.js'
import { stripeNow } from './stripe-now.js'

/** Settings of the repairer. */
export interface RepairerInit {
  /** An offline device is gone after this long, ms (config `repairGraceMs`). */
  graceMs: number
  /** How often the stripes are looked at, ms (0 = repair off: no walks, no read-repair; drain still works). Default 5000. */
  intervalMs?: number
  /**
   * A device offline for less than this still counts as online when planning, so a blip (a loaded
   * machine, a short SIGSTOP) never makes stripes look at k and start urgent repairs, ms.
   * Default 30000, capped at half the grace: a stripe left at k by devices still in their grace is
   * rebuilt before the grace ends, ahead of the stripes at k + 1 that wait for it.
   */
  settleMs?: number
  /** Budget of lazy repairs (margin ≥ 2), bytes fetched + stored per second. Default 32 MiB/s. */
  bytesPerSecond?: number
  /** Stripes repaired at once. Default 4. */
  concurrency?: number
  /** Deadline of one stripe's repair, ms. Default 60000. */
  stripeTimeoutMs?: number
  /** How often the local store is scrubbed, ms (0 = never). Default 24 h. */
  scrubIntervalMs?: number
  /** Scrub read budget, bytes per second. Default: the store's (32 MiB/s). */
  scrubBytesPerSecond?: number
  /**
   * Rebalance (rebalance.ts): usage difference (fraction of capacity above the swarm's mean) past
   * which this device moves its own fragments to emptier devices; 0 = never rebalance. Default 0.05.
   */
  rebalanceSlack?: number
  /**
   * The store's quarantine folder (`<home>/fragments/quarantine`): a fragment quarantined by any
   * read (a remote device's get, fsck) and no longer in the store is rebuilt too. Default: none.
   */
  quarantineDir?: string
}

/** What the repairer uses. */
export interface RepairerComponents {
  meta: Pick<MetaStore, 'allStripes' | 'getStripes' | 'setHolders' | 'stats'> & Partial<Pick<MetaStore, 'heldFragments'>>
  /**
   * The pool's retrieval (reads any k fragments, verified; rebuilds missing fragments from them, in
   * the stripe's own format version: a full re-encode would give a version-1 stripe new CIDs).
   */
  stripes: Pick<StripeIO, 'read'> & FragmentRebuilder
  /** Placement's view of the devices (room, availability). */
  candidates: () => Candidate[]
  describe: (id: string) => string
  membership: Pick<Membership, 'peers'>
  fragments: Pick<FragmentClient, 'putMany'>
  store: Pick<FragmentStore, 'put' | 'sync' | 'list' | 'get' | 'has' | 'delete'>
  /** Online devices' capacity and usage, this one first (rebalance; none: no rebalance). */
  figures?: () => RebalanceDevice[]
  /**
   * What each peer is known to hold of the journal (replication's version vectors): a copy this
   * device moved away is freed once no undo record a late op could need names it. None: every undo
   * record counts, until GC compacts them (`palm gc`, hourly).
   */
  peerVectors?: () => ReadonlyMap<string, ReadonlyMap<string, number>>
  deviceId: string
  logger: ComponentLogger
}

/** One device as repair sees it (for status). */
export interface RepairDevice {
  id: string
  name: string
  /** `draining`: online, being emptied by `palm drain` from this device. */
  state: DeviceState | 'draining'
  /** Last heard from (epoch ms; 0 = never; this device: now). */
  lastSeenMs: number
}

/** Repair's numbers for `palm status`. */
export interface RepairStatus {
  graceMs: number
  devices: RepairDevice[]
  /** Stripes below n (fewer than n fragments on distinct online devices) by margin, at the last walk. */
  stripesBelowN: MarginCounts
  /** Fragment bytes still to rebuild and place (all stripes, whoever is responsible), at the last walk. */
  bytesToMove: number
  /** Bytes fetched and stored per second by this device's last repair run (0 when idle). */
  rateBytesPerSec: number
  /** Since start, by this device. */
  fragmentsRebuilt: number
  stripesRepaired: number
  repairFailures: number
  /** When the last walk ended (epoch ms; 0 = none yet). */
  lastWalkMs: number
  lastScrub?: { atMs: number, checked: number, corrupt: number, unreadable: number, durationMs: number }
  /** Bad fragments (corrupt or unreadable) scrub found here since start. */
  scrubBadFound: number
  /**
   * Corrupt fragments (bytes not matching their CID) this device's reads found since start: its
   * own copies and those other devices served it; each was quarantined by its holder's store and
   * is rebuilt (read-repair). A copy found missing is rebuilt too but not counted here (a reader
   * with an older manifest may ask a device a fragment has just been moved from). A bad copy of
   * this device's that another device read is counted there, not here.
   */
  readBadFound: number
  /** Rebalance: fragments this device moved off itself since start (copied, recorded, freed here). */
  fragmentsMoved: number
  /** Rebalance: fragment bytes this device planned to move at the last walk. */
  bytesToRebalance: number
}

/** What `drain` did. */
export interface DrainOutcome {
  device: string
  stripesMoved: number
  fragmentsMoved: number
  durationMs: number
}

interface Work {
  ino: number
  stripe: StripeRef
  plan: StripePlan
}

/** A gap this long between two heartbeats means this process was suspended (SIGSTOP, sleep), ms. */
const SUSPENDED_GAP_MS = 5000

/** Most suspect fragments remembered (read-repair, scrub). */
const MAX_SUSPECTS = 100_000
/** A walk is redone at least this many intervals apart even with nothing changed. */
const IDLE_WALKS = 12

export class Repairer {
  readonly #c: RepairerComponents
  readonly #graceMs: number
  readonly #intervalMs: number
  readonly #settleMs: number
  readonly #bytesPerSecond: number
  readonly #concurrency: number
  readonly #stripeTimeoutMs: number
  readonly #log: Logger
  /** When this device started or last woke from a suspension: nobody is judged on what happened before. */
  #awakeSinceMs = Date.now()
  #lastBeatMs = Date.now()
  #beat?: NodeJS.Timeout
  readonly #declaredGone = new Set<string>()
  /** Devices being emptied (`palm drain`), and those emptied (never a target again here). */
  readonly #draining = new Set<string>()
  /** Stripes with fragments only draining devices hold, at the last walk. */
  #drainLeft = 0
  /** Stripe id → "index device" pairs a read found missing or corrupt. */
  readonly #suspects = new Map<string, Set<string>>()
  /** Local CIDs scrub found bad (quarantined by the store). */
  readonly #badLocal = new Set<string>()
  readonly #task: RepeatingTask
  readonly #scrub?: RepeatingTask
  readonly #scrubBytesPerSecond?: number
  readonly #quarantineDir?: string
  #lastSignature = ''
  #idleWalks = 0
  #kickTimer?: NodeJS.Timeout
  #running?: Promise<void>
  #stopped = false
  #busy = false
  readonly #status: Omit<RepairStatus, 'devices' | 'graceMs' | 'fragmentsMoved' | 'bytesToRebalance'> = {
    stripesBelowN: { atK: 0, atK1: 0, more: 0, unreadable: 0 }, bytesToMove: 0, rateBytesPerSec: 0, fragmentsRebuilt: 0, stripesRepaired: 0, repairFailures: 0, lastWalkMs: 0, scrubBadFound: 0, readBadFound: 0
  }
  /** Rebalance's moves (mover.ts): planned during walks, run by passes that found no repair. */
  readonly #mover: Mover
  /** Records repairs' new holders in batches. */
  readonly #recorder: HoldersRecorder

  constructor (init: RepairerInit, components: RepairerComponents) {
    this.#c = components
    this.#graceMs = init.graceMs
    this.#intervalMs = init.intervalMs ?? 5000
    this.#settleMs = Math.min(init.settleMs ?? 30_000, init.graceMs / 2)
    this.#bytesPerSecond = init.bytesPerSecond ?? 32 * 2 ** 20
    this.#concurrency = Math.max(1, init.concurrency ?? 4)
    this.#stripeTimeoutMs = init.stripeTimeoutMs ?? 60_000
    this.#log = components.logger.forComponent('palm:repair')
    this.#task = repeatingTask('repair', async (signal) => { await this.#runOnce(signal) }, { intervalMs: this.#intervalMs, timeoutMs: 24 * 60 * 60_000 }, this.#log)
    const scrubMs = init.scrubIntervalMs ?? 24 * 60 * 60_000
    this.#scrubBytesPerSecond = init.scrubBytesPerSecond
    this.#quarantineDir = init.quarantineDir
    this.#recorder = new HoldersRecorder(components.meta)
    this.#mover = new Mover({ slack: init.rebalanceSlack ?? 0.05, bytesPerSecond: this.#bytesPerSecond, concurrency: this.#concurrency, stripeTimeoutMs: this.#stripeTimeoutMs }, {
      meta: components.meta,
      candidates: components.candidates,
      ...(components.figures != null ? { figures: components.figures } : {}),
      ...(components.peerVectors != null ? { peerVectors: components.peerVectors } : {}),
      fragments: components.fragments,
      store: components.store,
      excluded: id => this.#declaredGone.has(id) || this.#draining.has(id),
      describe: components.describe,
      deviceId: components.deviceId,
      log: this.#log
    })
    if (scrubMs > 0) this.#scrub = repeatingTask('scrub', async (signal) => { await this.scrubNow({ signal }) }, { intervalMs: scrubMs, timeoutMs: 7 * 24 * 60 * 60_000 }, this.#log)
  }

  async start (): Promise<void> {
    this.#beat = setInterval(() => { this.#checkAwake() }, 1000)
    this.#beat.unref()
    this.#task.start()
    this.#scrub?.start()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    this.#mover.stop()
    clearTimeout(this.#kickTimer)
    clearInterval(this.#beat)
    await Promise.all([this.#task.stop(), this.#scrub?.stop()])
    await this.#running
  }

  /** Declares `device` gone now, skipping its grace (`palm remove`): its fragments are rebuilt at the next walk. */
  declareGone (device: string): void {
    if (device === this.#c.deviceId) return
    this.#declaredGone.add(device)
    this.#log('device %s declared gone: its fragments will be rebuilt elsewhere', this.#c.describe(device))
    this.kick()
  }

  /**
   * Moves every fragment only `device` holds to other devices (`palm drain`), this device doing the
   * work (within the repair budget), and returns once a walk finds none left. The device's copies
   * stay readable until the new holders are recorded, so no stripe drops below n on the way.
   * `device` is never a repair target here afterwards.
   */
  async drain (device: string, options: AbortOptions & { onProgress?: (p: { done: number, total: number }) => void } = {}): Promise<DrainOutcome> {
    const started = performance.now()
    const before = { fragments: this.#status.fragmentsRebuilt, stripes: this.#status.stripesRepaired }
    this.#draining.add(device)
    this.#log('draining %s: its fragments move to other devices', this.#c.describe(device))
    let total = -1
    let stuck = 0
    let lastLeft = Infinity
    for (let round = 0; ; round++) {
      if (options.signal?.aborted === true) throw options.signal.reason
      // One pass at a time: wait for a running one, then walk with the drain in view.
      while (this.#busy) await delay(100, options)
      this.#busy = true
      let work: Work[]
      try {
        const nowMs = Date.now()
        work = await this.#walk(this.#states(nowMs), nowMs, options.signal ?? new AbortController().signal)
        if (total < 0) total = this.#drainLeft
        options.onProgress?.({ done: Math.max(0, total - this.#drainLeft), total })
        if (this.#drainLeft === 0) break
        stuck = this.#drainLeft < lastLeft ? 0 : stuck + 1
        lastLeft = this.#drainLeft
        if (stuck >= 3) throw new IoError(`cannot drain ${this.#c.describe(device)}: ${this.#drainLeft} stripes still have fragments only it holds, and no device took them in 3 tries (are the others full or offline? see the daemon log, palm:repair); run palm drain again when they are back`)
        const doneBefore = total - this.#drainLeft
        let moved = 0
        await this.#repairAll(work, options.signal ?? new AbortController().signal, () => { options.onProgress?.({ done: Math.min(total, doneBefore + ++moved), total }) })
      } finally {
        this.#busy = false
      }
    }
    const outcome = { device, stripesMoved: this.#status.stripesRepaired - before.stripes, fragmentsMoved: this.#status.fragmentsRebuilt - before.fragments, durationMs: Math.round(performance.now() - started) }
    this.#log('drained %s: %d fragments of %d stripes moved in %d ms', this.#c.describe(device), outcome.fragmentsMoved, outcome.stripesMoved, outcome.durationMs)
    return outcome
  }

  /**
   * Read-repair: a read found fragment `index` of `stripe` missing or corrupt on `device`. A corrupt
   * copy is counted once (`readBadFound`), however many reads report it before it is rebuilt.
   */
  suspect (stripe: Pick<PlacedStripe, 'id'>, index: number, device: string, found: BadFragment): void {
    if (this.#suspects.size >= MAX_SUSPECTS) return
    let set = this.#suspects.get(stripe.id)
    if (set == null) this.#suspects.set(stripe.id, set = new Set())
    const key = `${index} ${device}`
    if (found === 'corrupt' && !set.has(key)) this.#status.readBadFound++
    set.add(key)
    this.kick()
  }

  /** Runs a walk soon (coalesced), outside the interval. */
  kick (): void {
    if (this.#stopped || this.#kickTimer != null || this.#intervalMs <= 0) return
    this.#kickTimer = setTimeout(() => {
      this.#kickTimer = undefined
      if (this.#running != null || this.#stopped) return
      this.#lastSignature = ''
      this.#idleWalks = 0
      const { signal, clear } = combineSignals([], 24 * 60 * 60_000)
      this.#running = this.#runOnce(signal).catch(err => { this.#log.error('repair failed: %e', err) }).finally(() => { clear(); this.#running = undefined })
    }, 200)
    this.#kickTimer.unref()
  }

  /** Scrubs the local store now (rate-bounded); bad fragments are rebuilt by the next walk. */
  async scrubNow (options: AbortOptions = {}): Promise<ScrubReport> {
    await this.#quarantined(options)
    const report = await scrubStore(this.#c.store, {
      ...options,
      bytesPerSecond: this.#scrubBytesPerSecond,
      log: this.#log,
      onBad: cid => { if (this.#badLocal.size < MAX_SUSPECTS) this.#badLocal.add(cid.toString()) }
    })
    this.#status.scrubBadFound += report.corruptCount + report.unreadableCount
    this.#status.lastScrub = { atMs: Date.now(), checked: report.checked, corrupt: report.corruptCount, unreadable: report.unreadableCount, durationMs: report.durationMs }
    this.#log('scrub checked %d fragments (%d bytes) in %d ms: %d corrupt, %d unreadable', report.checked, report.bytes, report.durationMs, report.corruptCount, report.unreadableCount)
    if (report.corruptCount + report.unreadableCount > 0) this.kick()
    return report
  }

  /**
   * Notices that this process was suspended (a SIGSTOP, a laptop asleep): the others then look
   * silent for that long, which says nothing about them, so their grace starts again from now.
   */
  #checkAwake (): void {
    const now = Date.now()
    if (now - this.#lastBeatMs > SUSPENDED_GAP_MS) {
      this.#awakeSinceMs = now
      this.#lastSignature = ''
      this.#log('this device was suspended for %d s: the others get a whole grace again before any is declared gone', Math.round((now - this.#lastBeatMs) / 1000))
    }
    this.#lastBeatMs = now
  }

  /**
   * Fragments the store quarantined (files `<cid>.<ms>.bad`) on any read, not only scrub's, that it
   * no longer holds: bad copies here, rebuilt like those scrub finds.
   */
  async #quarantined (options: AbortOptions): Promise<void> {
    if (this.#quarantineDir == null) return
    const names = await readdir(this.#quarantineDir).catch(() => [] as string[])
    for (const name of names) {
      const cid = name.split('.')[0]
      if (this.#badLocal.has(cid) || this.#badLocal.size >= MAX_SUSPECTS) continue
      try {
        if (!await this.#c.store.has(CID.parse(cid), options)) this.#badLocal.add(cid)
      } catch {}
    }
  }

  /** Device states; `settled`: for planning (blips shorter than settleMs count as online). */
  #states (nowMs: number, settled = true): Map<string, DeviceState> {
    return deviceStates(this.#c.deviceId, this.#c.membership.peers(), [], { nowMs, startedMs: this.#awakeSinceMs, graceMs: this.#graceMs, settleMs: settled ? this.#settleMs : 0, declaredGone: this.#declaredGone })
  }

  /** The state of a holder the membership does not know (never met since start, or forgotten). */
  #stateOfUnknown (states: Map<string, DeviceState>, id: string, nowMs: number): void {
    if (states.has(id)) return
    states.set(id, this.#declaredGone.has(id) || nowMs - this.#awakeSinceMs > this.#graceMs ? 'gone' : 'grace')
  }

  /** The devices online for planning (blips shorter than settleMs count as online), this one included: who is responsible for a stripe (re-encoding asks too). */
  onlineDevices (): string[] {
    return [...this.#states(Date.now())].filter(([, s]) => s === 'online').map(([id]) => id)
  }

  status (): RepairStatus {
    const nowMs = Date.now()
    const peers = new Map(this.#c.membership.peers().map(p => [p.id, p]))
    const devices = [...this.#states(nowMs, false)].map(([id, state]) => ({ id, name: this.#c.describe(id), state: state === 'online' && this.#draining.has(id) ? 'draining' as const : state, lastSeenMs: id === this.#c.deviceId ? nowMs : peers.get(id)?.lastSeenMs ?? 0 }))
    return { graceMs: this.#graceMs, devices, ...this.#status, stripesBelowN: { ...this.#status.stripesBelowN }, fragmentsMoved: this.#mover.fragmentsMoved, bytesToRebalance: this.#mover.bytesToRebalance }
  }

  async #runOnce (signal: AbortSignal): Promise<void> {
    // The interval and a kick never run two passes at once.
    if (this.#busy) return
    this.#busy = true
    try {
      await this.#pass(signal)
    } finally {
      this.#busy = false
    }
  }

  async #pass (signal: AbortSignal): Promise<void> {
    // A pass due while this process was stopped may run before the heartbeat notices it.
    this.#checkAwake()
    // Copies moved away earlier are freed first, on their own schedule (even in a pass that skips
    // its walk), and before a walk plans moves from usage that still counts them.
    await this.#mover.retryFrees(signal)
    const nowMs = Date.now()
    const states = this.#states(nowMs)
    const signature = `${this.#c.meta.stats().ops}|${[...states].map(([id, s]) => `${id}=${s}`).join(',')}|${this.#suspects.size}|${this.#badLocal.size}`
    if (signature === this.#lastSignature && ++this.#idleWalks < IDLE_WALKS) return
    this.#idleWalks = 0
    const work = await this.#walk(states, nowMs, signal, true)
    const moves = this.#mover.takePlanned()
    // Nothing to do and nothing changed: the next interval may skip the walk.
    this.#lastSignature = work.length === 0 && moves.length === 0 ? signature : ''
    if (work.length > 0) await this.#repairAll(work, signal)
    else if (moves.length > 0) await this.#mover.rebalance(moves, signal)
  }

  /** Plans every stripe; returns the work of this device, most urgent first. */
  async #walk (states: Map<string, DeviceState>, nowMs: number, signal: AbortSignal, rebalance = false): Promise<Work[]> {
    const self = this.#c.deviceId
    const online = [...states].filter(([, s]) => s === 'online').map(([id]) => id)
    const moves = rebalance ? this.#mover.walk(nowMs) : undefined
    const onlineNow = new Set([self, ...this.#c.membership.peers().filter(p => p.online).map(p => p.id)])
    const counts: MarginCounts = { atK: 0, atK1: 0, more: 0, unreadable: 0 }
    let bytesToMove = 0
    const work: Work[] = []
    const stillBad = new Set<string>()
    let drainLeft = 0
    for await (const { ino, stripe } of this.#c.meta.allStripes({ signal })) {
      for (const h of stripe.holders) for (const d of h) this.#stateOfUnknown(states, d, nowMs)
      const bad = this.#badOf(stripe)
      const plan = planStripe(stripe, self, states, bad, this.#draining)
      const drains = this.#draining.size > 0 && stripe.holders.some(h => h.length > 0 && h.every(d => this.#draining.has(d)))
      if (drains) drainLeft++
      countMargin(counts, stripe, plan)
      if (plan.place.length === 0) {
        // Bad copies that need nothing now (another holder has the fragment) are forgotten.
        this.#suspects.delete(stripe.id)
        moves?.offer(ino, stripe, onlineNow)
        continue
      }
      for (const key of bad) stillBad.add(stripe.fragments[Number(key.split(' ')[0])])
      bytesToMove += plan.place.length * fragmentLengthFor(stripe.length, stripe.k)
      // Suspects found here and drains started here are done here; the rest by the responsible device.
      if (bad.size > 0 || drains || responsibleFor(stripe.id, online) === self) work.push({ ino, stripe, plan })
    }
    // Local CIDs scrub found bad that no stripe needs rebuilt (garbage, or fixed meanwhile) are forgotten.
    for (const cid of [...this.#badLocal]) if (!stillBad.has(cid)) this.#badLocal.delete(cid)
    this.#status.stripesBelowN = counts
    this.#drainLeft = drainLeft
    this.#status.bytesToMove = bytesToMove
    this.#status.lastWalkMs = Date.now()
    if (moves != null) this.#mover.planned(moves)
    return work.sort((a, b) => a.plan.margin - b.plan.margin)
  }

  /** Bad copies of `stripe` known here: suspects from reads, and local fragments scrub found bad. */
  #badOf (stripe: StripeRef): Set<string> {
    const bad = new Set(this.#suspects.get(stripe.id) ?? [])
    if (this.#badLocal.size > 0) {
      stripe.fragments.forEach((cid, i) => { if (this.#badLocal.has(cid)) bad.add(`${i} ${this.#c.deviceId}`) })
    }
    return bad
  }

  async #repairAll (work: Work[], signal: AbortSignal, onRepaired?: () => void): Promise<void> {
    const started = performance.now()
    let moved = 0
    let lazyStart = 0
    let lazyBytes = 0
    let next = 0
    const runner = async (): Promise<void> => {
      while (next < work.length && !signal.aborted && !this.#stopped) {
        const w = work[next++]
        if (w.plan.margin >= 2) {
          // Lazy: within the budget, counted from the first lazy stripe. A stripe's bytes (k fetched,
          // the placed ones stored) are reserved before it starts, so the stripes in flight at once
          // are never a burst past it: at most one stripe ahead of the budget.
          if (lazyStart === 0) lazyStart = performance.now()
          const aheadMs = (lazyBytes / this.#bytesPerSecond) * 1000 - (performance.now() - lazyStart)
          lazyBytes += (w.stripe.k + w.plan.place.length) * fragmentLengthFor(w.stripe.length, w.stripe.k)
          if (aheadMs >= 1) await delay(aheadMs, { signal }).catch(() => {})
        }
        const bytes = await this.#repairOne(w, signal)
        if (bytes > 0) onRepaired?.()
        moved += bytes
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, work.length) }, runner))
    await this.#recorder.flush()
    const seconds = (performance.now() - started) / 1000
    this.#status.rateBytesPerSec = seconds > 0 ? Math.round(moved / seconds) : 0
    if (moved > 0) this.#log('repair moved %d bytes in %d ms', moved, Math.round(seconds * 1000))
  }

  /** What `stripe` needs now (device states, bad copies and drains as they are now). */
  #planNow (stripe: StripeRef): StripePlan {
    const nowMs = Date.now()
    const states = this.#states(nowMs)
    for (const h of stripe.holders) for (const d of h) this.#stateOfUnknown(states, d, nowMs)
    return planStripe(stripe, this.#c.deviceId, states, this.#badOf(stripe), this.#draining)
  }

  /** Repairs one stripe; returns the bytes fetched and stored (0 when it failed or needs nothing now). */
  async #repairOne (w: Work, outer: AbortSignal): Promise<number> {
    const { signal, clear } = combineSignals([outer], this.#stripeTimeoutMs)
    const what = `stripe ${w.stripe.index} of inode ${w.ino}`
    try {
      // Planned from the walk's snapshot: planned again from the stripe as it is now, so that no
      // target is a device another device moved a fragment of the stripe to meanwhile.
      const stripe = await stripeNow(this.#c.meta, w, signal)
      if (stripe == null) return 0
      const plan = this.#planNow(stripe)
      if (plan.place.length === 0) return 0
      const fragmentBytes = fragmentLengthFor(stripe.length, stripe.k)
      // Gone past the grace: not a candidate already; declared gone: never, even when online.
      const candidates = this.#c.candidates().filter(c => !this.#declaredGone.has(c.id) && !this.#draining.has(c.id))
      const targets = pickTargets(stripe, plan, fragmentBytes, candidates)
      if (targets.size === 0) {
        this.#log('%s needs %d fragments placed, but no device can take them now', what, plan.place.length)
        this.#status.repairFailures++
        return 0
      }
      const rebuilt = await this.#rebuilt(stripe, [...targets.keys()], signal, what)
      const byTarget = new Map<string, Array<{ index: number, item: FragmentItem }>>()
      for (const [index, target] of targets) {
        const f = rebuilt.get(index)
        if (f == null || f.cid.toString() !== stripe.fragments[index]) {
          this.#log.error('%s: rebuilding gave another fragment %d than the journal names (%s, not %s): left alone', what, index, f?.cid.toString(), stripe.fragments[index])
          continue
        }
        let list = byTarget.get(target)
        if (list == null) byTarget.set(target, list = [])
        list.push({ index, item: { cid: f.cid, bytes: f.bytes } })
      }
      const placed: Array<[number, string, string[]]> = []
      // The new holder first (it surely has it); devices in their grace stay listed after it.
      const holdersAfter = (index: number, target: string): string[] => [target, ...(plan.waitingFor.get(index) ?? []).filter(d => d !== target)]
      let bytes = stripe.k * fragmentBytes
      await Promise.all([...byTarget].map(async ([target, list]) => {
        try {
          if (target === this.#c.deviceId) {
            for (const { item } of list) await this.#c.store.put(item.cid, item.bytes, { signal })
            await this.#c.store.sync(list.map(l => l.item.cid), { signal })
            for (const { index } of list) placed.push([index, stripe.fragments[index], holdersAfter(index, target)])
            return
          }
          // Flushed on the target before it is recorded as a holder, as moves and spreads are.
          const outcomes = await this.#c.fragments.putMany(target, list.map(l => l.item), { signal, sync: true })
          outcomes.forEach((o, j) => {
            if (o.ok) placed.push([list[j].index, stripe.fragments[list[j].index], holdersAfter(list[j].index, target)])
            else this.#log('%s: %s refused fragment %d: %s', what, this.#c.describe(target), list[j].index, o.error.message)
          })
        } catch (err) {
          if (signal.aborted) throw err
          this.#log('%s: storing on %s failed: %s', what, this.#c.describe(target), (err as Error).message)
        }
      }))
      if (placed.length === 0) { this.#status.repairFailures++; return 0 }
      // A fragment of the stripe put on a target by another device during the copies (its journal
      // op arrived meanwhile): that target would hold two; its copy is left as an extra one and
      // the next walk places the fragment again.
      const now = await stripeNow(this.#c.meta, w, signal)
      if (now == null) return 0
      const placing = new Set(placed.map(p => p[0]))
      const onDevice = (s: StripeRef, device: string): number => s.fragments.filter((_, i) => !placing.has(i) && holdersOf(s, i, this.#c.deviceId).includes(device)).length
      const crowded = new Set([...new Set(placed.map(p => p[2][0]))].filter(d => onDevice(now, d) > onDevice(stripe, d)))
      if (crowded.size > 0) {
        this.#log('%s: %s took another fragment of it meanwhile: fragments %s not recorded there', what, [...crowded].map(d => this.#c.describe(d)).join(', '), placed.filter(p => crowded.has(p[2][0])).map(p => p[0]).join(','))
        placed.splice(0, placed.length, ...placed.filter(p => !crowded.has(p[2][0])))
        if (placed.length === 0) { this.#status.repairFailures++; return 0 }
      }
      placed.sort((a, b) => a[0] - b[0])
      // Recorded with other stripes' (holders-recorder.ts); this runner goes on meanwhile.
      // Recorded only if the stripe's holders are still those seen after the copies (another
      // device's record landing during the wait would otherwise be overwritten).
      await this.#recorder.add({ ino: w.ino, index: stripe.index, stripeId: stripe.id, set: placed, expect: now.holders }, (outcome) => {
        if (outcome instanceof Error) {
          this.#status.repairFailures++
          this.#log('could not record the repair of %s: %s', what, outcome.message)
          return
        }
        if (outcome === 'stale') {
          this.#log('%s changed before its repair was recorded: not recorded (the copies are extra), the next walk looks again', what)
          return
        }
        this.#status.fragmentsRebuilt += placed.length
        this.#status.stripesRepaired++
        this.#forget(stripe, placed.map(p => p[0]))
        this.#log('%s (margin %d): rebuilt fragments %s on %s', what, plan.margin, placed.map(p => p[0]).join(','), [...new Set(placed.map(p => this.#c.describe(p[2][0])))].join(', '))
      }, { signal: outer })
      return bytes + placed.length * fragmentBytes
    } catch (err) {
      this.#status.repairFailures++
      if (!outer.aborted) this.#log('could not repair %s: %s', what, (err as Error).message)
      return 0
    } finally {
      clear()
    }
  }

  /** The fragments `wanted` of `stripe`, rebuilt from any k others (no decode, no full re-encode). */
  async #rebuilt (stripe: StripeRef, wanted: number[], signal: AbortSignal, what: string): Promise<Map<number, Fragment>> {
    return new Map((await this.#c.stripes.rebuild(stripe, wanted, { signal, file: what })).map(f => [f.index, f]))
  }

  /** Drops what was known bad about the fragments just placed. */
  #forget (stripe: StripeRef, indices: number[]): void {
    const set = this.#suspects.get(stripe.id)
    if (set != null) {
      for (const key of [...set]) if (indices.includes(Number(key.split(' ')[0]))) set.delete(key)
      if (set.size === 0) this.#suspects.delete(stripe.id)
    }
    for (const i of indices) this.#badLocal.delete(stripe.fragments[i])
  }
}
