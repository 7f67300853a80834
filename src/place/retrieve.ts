/**
 * Reading a stripe back from any k of its fragments (Helia's raceBlockRetrievers, with hedging):
 *
 * 1. Sources: this device's store for fragments it holds (data shards first), then the online
 *    holders of the others, fastest first (DeviceStats' expected time for the fragment size), a
 *    parity fragment ranked as if it took longer by what rebuilding a data shard from it costs
 *    (`PARITY_REBUILD_BYTES_PER_MS`): k data fragments decode without Reed-Solomon.
 * 2. k requests start at once; a failure starts the next source; when no reply has come within
 *    twice the slowest expected time (at least `hedgeMinMs`), one more request starts (a hedge).
 * 3. Every fragment is checked against its CID (the store and the fragment client both verify);
 *    a corrupt one is logged with the device and the CID and another source is tried.
 * 4. With k in hand the rest are aborted and the chunk pool decodes (or, for repair, rebuilds the
 *    missing fragments from them: rebuildStripeFragments).
 * 5. When the online sources cannot give k but devices that are expected back (offline, seen
 *    within the repair grace: restarting, or not found again yet since this device started; see
 *    device-table.ts) hold enough of the rest, the read waits for them to come online and asks
 *    them then. With fewer than k fragments within reach even counting those, or after
 *    `readFailMs`, the read fails with FragmentsUnavailableError (EIO) naming the file and the
 *    devices that were missing.
 */
import { CID } from 'multiformats/cid'
import { fragmentLengthFor, versionOfCid, type ChunkPool, type Fragment, type StripeExpectation } from '../chunk/index.js'
import { FragmentsUnavailableError, NotSupportedError } from '../errors.js'
import type { FragmentClient } from '../net/index.js'
import type { FragmentStore } from '../store/index.js'
import { combineSignals, throwIfAborted } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import { isDeviceFailure } from './device-stats.js'
import type { DeviceTable } from './device-table.js'
import { holdersOf } from './holders.js'
import type { BadFragment, PlacedStripe, StripeIOOptions } from './types.js'

/** What a read needs. */
export interface RetrieveDeps {
  devices: DeviceTable
  fragments: Pick<FragmentClient, 'get'>
  store: Pick<FragmentStore, 'get'>
  pool: Pick<ChunkPool, 'decode' | 'rebuild'>
  log: Logger
  /** A read that cannot gather k fragments fails after at most this long, ms. */
  readFailMs: number
  /** Shortest wait before a hedged request, ms. */
  hedgeMinMs: number
  /** Counters the reads add to: time gathering fragments and decoding, ms; hedged requests sent. */
  counters: { fetchMs: number, decodeMs: number, hedges: number }
  /** Read-repair: a fragment was found missing or corrupt on a device (the read went on without it). */
  onBadFragment?: (stripe: PlacedStripe, index: number, device: string, found: BadFragment) => void
  /**
   * Ops of other devices' journals this device has not received yet. While it catches up (a device
   * that just joined, or woke), it may read a file the others have since deleted or rewritten, whose
   * fragments were rightly collected: the error says so instead of blaming devices.
   */
  journalBehind?: () => number
}

interface Source {
  index: number
  device: string
  local: boolean
  expectedMs: number
}

/** Where a stripe's fragments can be had now, and who else holds them. */
interface Sources {
  /** Local ones first, then online devices by expected time. */
  sources: Source[]
  /** Holders that are offline. */
  offline: Set<string>
  /** Fragments held by offline devices that are expected back: index → devices. */
  coming: Map<number, string[]>
}

const keyOf = (s: Source): string => `${s.index} ${s.device}`

/**
 * Bytes of input a chunk worker turns into a rebuilt data shard per ms: the JS Reed-Solomon's
 * multiply-add ran at ~590 MB/s in a worker alone and ~380 MB/s in a loaded daemon here
 * (docs/performance.md, "malloc"). Decoding from k data fragments needs no Reed-Solomon at all;
 * each parity fragment among the k costs one data shard rebuilt from k shards, ~7–11 ms of CPU for
 * a 4 MiB stripe at 4-of-6.
 */
export const PARITY_REBUILD_BYTES_PER_MS = 600_000

/** How much later than a data fragment a parity fragment may arrive and still be the better choice, ms. */
export function parityPenaltyMs (k: number, fragmentBytes: number): number {
  return k * fragmentBytes / PARITY_REBUILD_BYTES_PER_MS
}

/**
 * The order in which remote sources are asked: by expected time, a parity fragment (index ≥ k) as if
 * it took `parityPenaltyMs` longer; a device's second fragment after every device's first.
 */
export function rankRemote<S extends { index: number, device: string, expectedMs: number }> (remote: S[], k: number, fragmentBytes: number): S[] {
  const penalty = parityPenaltyMs(k, fragmentBytes)
  const rankMs = (s: S): number => s.expectedMs + (s.index >= k ? penalty : 0)
  const seen = new Map<string, number>()
  return [...remote].sort((a, b) => rankMs(a) - rankMs(b) || a.index - b.index).map(s => {
    const nth = seen.get(s.device) ?? 0
    seen.set(s.device, nth + 1)
    return { s, nth }
  }).sort((a, b) => a.nth - b.nth || rankMs(a.s) - rankMs(b.s) || a.s.index - b.s.index).map(x => x.s)
}

/** The sources of each fragment, local ones first, then by expected time. Also the offline holders. */
function sourcesOf (deps: RetrieveDeps, stripe: PlacedStripe): Sources {
  const self = deps.devices.selfId
  const bytes = fragmentLengthFor(stripe.length, Math.max(1, stripe.k))
  const local: Source[] = []
  const remote: Source[] = []
  const offline = new Set<string>()
  const coming = new Map<number, string[]>()
  const nowMs = Date.now()
  for (let i = 0; i < stripe.n; i++) {
    const holders = holdersOf(stripe, i, self)
    for (const device of new Set(holders)) {
      if (device === self) local.push({ index: i, device, local: true, expectedMs: 0 })
      else if (deps.devices.online(device)) remote.push({ index: i, device, local: false, expectedMs: deps.devices.stats.expectedMs(device, bytes, deps.devices.rttMs(device)) })
      else {
        offline.add(device)
        if (deps.devices.expectedBack(device, nowMs)) coming.set(i, [...(coming.get(i) ?? []), device])
      }
    }
  }
  const ranked = rankRemote(remote, stripe.k, bytes)
  return { sources: [...local, ...ranked], offline, coming }
}

/** Reads `stripe` from any k fragments; see the module comment. */
export async function readStripe (deps: RetrieveDeps, stripe: PlacedStripe, options: StripeIOOptions = {}): Promise<Uint8Array> {
  return await fromAnyK(deps, stripe, options, async found => await deps.pool.decode(found, expectationOf(stripe), { signal: options.signal, transferFragments: true }))
}

/**
 * Repair: the fragments `wanted` (indexes) of `stripe`, rebuilt from any k others gathered as a read
 * gathers them, without opening the package (chunk/rebuild.ts); each matches its CID.
 */
export async function rebuildStripeFragments (deps: RetrieveDeps, stripe: PlacedStripe, wanted: number[], options: StripeIOOptions = {}): Promise<Fragment[]> {
  return await fromAnyK(deps, stripe, options, async found => await deps.pool.rebuild(found, expectationOf(stripe), wanted, { signal: options.signal, transferFragments: true }))
}

function expectationOf (stripe: PlacedStripe): StripeExpectation {
  return { k: stripe.k, n: stripe.n, length: stripe.length, codecId: stripe.codecId, cids: stripe.fragments }
}

/** Gathers any k fragments of `stripe` (the race above) and hands them to `use` (decode or rebuild). */
async function fromAnyK<T> (deps: RetrieveDeps, stripe: PlacedStripe, options: StripeIOOptions, use: (found: Array<{ index: number, bytes: Uint8Array }>) => Promise<T>): Promise<T> {
  const file = options.file ?? `stripe ${stripe.id}`
  throwIfAborted(options.signal, `reading ${file}`)
  knownFormat(stripe, file)
  const deadline = combineSignals([options.signal], deps.readFailMs)
  const losers = new AbortController()
  const race = new Race(deps, stripe, file, deadline.signal, losers.signal)
  try {
    const t0 = performance.now()
    const found = await race.run()
    const t1 = performance.now()
    deps.counters.fetchMs += t1 - t0
    const out = await use(found)
    deps.counters.decodeMs += performance.now() - t1
    return out
  } catch (err) {
    if (!(err instanceof RaceLost)) throw err
    throwIfAborted(options.signal, `reading ${file}`)
    const missing = [...new Set([...race.offline, ...err.failedDevices])].map(d => deps.devices.describe(d))
    // Asked but not answered by the deadline: slow (or overloaded), not missing, and no fragment is lost.
    const slow = deadline.signal.aborted ? err.pending.map(d => deps.devices.describe(d)).filter(d => !missing.includes(d)) : []
    const why = deadline.signal.aborted ? `within ${deps.readFailMs} ms${err.waited ? ' (waited for devices expected back)' : ''}` : 'from the devices that are online'
    const message = `cannot read ${file}: only ${err.found} of the ${stripe.k} fragments needed are reachable ${why}; ` +
      (missing.length > 0 || slow.length === 0 ? `missing device${missing.length === 1 ? '' : 's'}: ${missing.length > 0 ? missing.join(', ') : 'none (fragments lost)'}` : '') +
      (slow.length > 0 ? `${missing.length > 0 ? '; ' : ''}no answer in time from ${slow.join(', ')}` : '') +
      `${err.problems.length > 0 ? ` (${err.problems.join('; ')})` : ''}. ${advice(deps.journalBehind?.() ?? 0)}`
    deps.log.error('%s', message)
    throw new FragmentsUnavailableError(message, { found: err.found, needed: stripe.k, peers: [...missing, ...slow], details: { file: options.file, stripe: stripe.id } })
  } finally {
    losers.abort()
    deadline.clear()
  }
}

/**
 * Refuses a stripe whose CIDs name a hash this palm does not know (a newer palm's format) before
 * any fetch: every fragment would fail its CID check and be reported corrupt, and the read EIO.
 */
function knownFormat (stripe: PlacedStripe, file: string): void {
  const first = stripe.fragments[0]
  if (first == null || versionOfCid(CID.parse(first)) !== undefined) return
  throw new NotSupportedError(`cannot read ${file}: its fragments are named with a hash this palm does not know (${first}); upgrade palm on this device`, { details: { file, stripe: stripe.id } })
}

/** What to do about a read that could not gather k fragments. */
export function advice (journalBehind: number): string {
  if (journalBehind <= 0) return 'Bring those devices back online, then read again'
  return `This device's journal is still ${journalBehind} ops behind the other devices' (catching up): the file may have been deleted or rewritten since; read it again once \`palm status\` shows the journal caught up, and bring any missing device back online`
}

/** Fewer than k fragments could be had. */
class RaceLost extends Error {
  constructor (readonly found: number, readonly failedDevices: string[], readonly problems: string[], readonly waited: boolean, readonly pending: string[]) {
    super('fewer than k fragments')
  }
}

/** Gathers k fragments from `sources`, hedging late replies. */
class Race {
  readonly #found: Array<{ index: number, bytes: Uint8Array }> = []
  readonly #inflight = new Map<Source, AbortController>()
  readonly #failedDevices = new Set<string>()
  readonly #problems: string[] = []
  readonly #tried = new Set<string>()
  #done = false
  /** Waiting for devices expected back (see the module comment). */
  #waiting = false
  #waited = false
  #sources: Sources
  #hedgeTimer?: NodeJS.Timeout
  #resolve!: (found: Array<{ index: number, bytes: Uint8Array }>) => void
  #reject!: (err: Error) => void

  constructor (
    readonly deps: RetrieveDeps,
    readonly stripe: PlacedStripe,
    readonly file: string,
    readonly deadline: AbortSignal,
    readonly losers: AbortSignal
  ) {
    this.#sources = sourcesOf(deps, stripe)
  }

  /** Holders that were offline when last looked at. */
  get offline (): Set<string> { return this.#sources.offline }

  async run (): Promise<Array<{ index: number, bytes: Uint8Array }>> {
    const result = new Promise<Array<{ index: number, bytes: Uint8Array }>>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    const onDeadline = (): void => { this.#lose() }
    this.deadline.addEventListener('abort', onDeadline, { once: true })
    try {
      this.#fill()
      return await result
    } finally {
      this.#done = true
      this.deadline.removeEventListener('abort', onDeadline)
      clearTimeout(this.#hedgeTimer)
      for (const c of this.#inflight.values()) c.abort()
    }
  }

  #has (index: number): boolean {
    return this.#found.some(f => f.index === index) || [...this.#inflight.keys()].some(s => s.index === index)
  }

  /** Sources not tried yet, for fragments neither had nor asked for, on devices that have not failed. */
  #untried (): Source[] {
    return this.#sources.sources.filter(s => !this.#tried.has(keyOf(s)) && !this.#has(s.index) && !this.#failedDevices.has(s.device))
  }

  /** Starts the next untried source; false when none is left. */
  #launch (): boolean {
    const s = this.#untried()[0]
    if (s == null) return false
    this.#tried.add(keyOf(s))
    const c = new AbortController()
    this.#inflight.set(s, c)
    void this.#fetch(s, c)
    return true
  }

  /**
   * Keeps k − found requests running; waits for devices expected back when only they can make up
   * k; fails as soon as k fragments are out of reach.
   */
  #fill (): void {
    if (this.#done) return
    while (this.#inflight.size < this.stripe.k - this.#found.length && this.#launch());
    const reachable = new Set([...this.#found.map(f => f.index), ...[...this.#inflight.keys()].map(s => s.index), ...this.#untried().map(s => s.index)])
    if (reachable.size < this.stripe.k) {
      const coming = [...this.#sources.coming].filter(([i, devices]) => !reachable.has(i) && devices.some(d => !this.#failedDevices.has(d)))
      if (reachable.size + coming.length < this.stripe.k) { this.#lose(reachable.size); return }
      this.#awaitDevices(new Set(coming.flatMap(([, devices]) => devices)))
      return
    }
    this.#armHedge()
  }

  /** Looks at the sources again whenever a device comes online, until the race ends. */
  #awaitDevices (devices: Set<string>): void {
    if (this.#waiting) return
    this.#waiting = true
    if (!this.#waited) this.deps.log.trace('%s waits for devices expected back: %s', this.file, [...devices].map(d => this.deps.devices.describe(d)).join(', '))
    this.#waited = true
    const { signal, clear } = combineSignals([this.deadline, this.losers])
    void this.deps.devices.changed(signal).then(() => {
      clear()
      this.#waiting = false
      if (this.#done) return
      this.#sources = sourcesOf(this.deps, this.stripe)
      this.#fill()
    })
  }

  #armHedge (): void {
    clearTimeout(this.#hedgeTimer)
    const remote = [...this.#inflight.keys()].filter(s => !s.local)
    if (remote.length === 0 || this.#untried().length === 0) return
    const waitMs = Math.max(this.deps.hedgeMinMs, 2 * Math.max(...remote.map(s => s.expectedMs)))
    this.#hedgeTimer = setTimeout(() => {
      if (this.#done) return
      if (this.#launch()) {
        this.deps.counters.hedges++
        this.deps.log.trace('hedged a read of %s after %d ms', this.file, Math.round(waitMs))
      }
      this.#armHedge()
    }, waitMs)
  }

  async #fetch (s: Source, c: AbortController): Promise<void> {
    const cid = this.stripe.fragments[s.index]
    const { signal, clear } = combineSignals([this.deadline, this.losers, c.signal])
    const started = performance.now()
    try {
      const bytes = s.local
        ? await this.deps.store.get(CID.parse(cid), { signal })
        : await this.deps.fragments.get(s.device, CID.parse(cid), { signal })
      if (!s.local) this.deps.devices.stats.succeeded(s.device, bytes.byteLength, performance.now() - started)
      this.#inflight.delete(s)
      if (this.#done) return
      this.#found.push({ index: s.index, bytes })
      if (this.#found.length >= this.stripe.k) {
        this.#done = true
        this.#resolve(this.#found.slice())
        return
      }
    } catch (err) {
      this.#inflight.delete(s)
      if (this.#done || signal.aborted) {
        // The race was decided meanwhile, but a corrupt copy was quarantined on the way: it
        // still needs its rebuild (and its count), or the stripe waits for the next scrub.
        if ((err as Error)?.name === 'IntegrityError') this.deps.onBadFragment?.(this.stripe, s.index, s.device, 'corrupt')
        return
      }
      this.#failed(s, cid, err)
    } finally {
      clear()
    }
    this.#fill()
  }

  #failed (s: Source, cid: string, err: unknown): void {
    const device = this.deps.devices.describe(s.device)
    const name = (err as Error)?.name
    if (name === 'IntegrityError') {
      this.deps.log.error('fragment %s (index %d of %s) is corrupt on device %s; reading another: %s', cid, s.index, this.file, device, (err as Error).message)
      this.#problems.push(`fragment ${s.index} corrupt on ${device}`)
      this.deps.onBadFragment?.(this.stripe, s.index, s.device, 'corrupt')
    } else if (name === 'NotFoundError') {
      this.deps.log('fragment %s (index %d of %s) is missing on device %s', cid, s.index, this.file, device)
      this.#problems.push(`fragment ${s.index} missing on ${device}`)
      this.deps.onBadFragment?.(this.stripe, s.index, s.device, 'missing')
    } else {
      this.deps.log('fragment %d of %s from %s failed: %s', s.index, this.file, device, (err as Error)?.message)
      this.#problems.push(`${device}: ${name ?? 'error'}`)
    }
    if (!s.local && isDeviceFailure(err)) {
      this.#failedDevices.add(s.device)
      this.deps.devices.stats.failed(s.device, err)
    }
  }

  /** Gives up; `reachable`: fragments that could still be had (default: those in hand). */
  #lose (reachable = this.#found.length): void {
    if (this.#done) return
    this.#done = true
    const pending = [...new Set([...this.#inflight.keys()].filter(s => !s.local).map(s => s.device))]
    this.#reject(new RaceLost(Math.max(reachable, this.#found.length), [...this.#failedDevices], this.#problems, this.#waited, pending))
  }
}
