/**
 * The pool's StripeIO: stripes encoded in the chunk pool, their n fragments spread over the swarm's
 * devices (placement.ts, writer.ts), read back from any k (retrieve.ts). The shortfall of writes
 * made while devices were missing goes to the spread queue; `sync` asks every holder to flush;
 * `health` and `usage` count only devices that are online now.
 */
import { CID } from 'multiformats/cid'
import type { ChunkPool, Fragment } from '../chunk/index.js'
import type { DurabilityMode } from '../config/defaults.js'
import { IoError, NoSpaceError } from '../errors.js'
import type { FragmentClient, Membership } from '../net/index.js'
import type { FragmentStore } from '../store/index.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import type { ComponentLogger, Logger } from '../util/logger.js'
import { DeviceStats, isNoRoom } from './device-stats.js'
import { DeviceTable } from './device-table.js'
import { DEFAULT_LOCAL_POLICY } from './local.js'
import { readStripe, rebuildStripeFragments, type RetrieveDeps } from './retrieve.js'
import { FragmentSender } from './sender.js'
import { holdersOf } from './holders.js'
import type { BadFragment, FragmentRebuilder, PlacedStripe, PoolUsage, SpreadQueue, StripeHealth, StripeIO, StripeIOOptions, StripePolicy } from './types.js'
import { usableBytes } from './usage.js'
import { writeFragments, type WriterDeps } from './writer.js'

/** Settings of the pool. */
export interface PoolStripeIOInit {
  /** Policy that turns raw bytes into usable ones in `usage()`. Default 4-of-6. */
  policy?: StripePolicy
  /** When a stripe write returns (see writer.ts). Default 'all'. */
  durability?: DurabilityMode
  /** A read that cannot gather k fragments fails after at most this long, ms. Default 5000. */
  readFailMs?: number
  /** A device that has not stored its fragments within this long (plus 1 ms per KB) is given up on, ms. Default 10000. */
  placeTimeoutMs?: number
  /** Shortest wait before a hedged read request, ms. Default 30. */
  hedgeMinMs?: number
  /** This device's name (messages, `user.palm.health`). Default: its id. */
  deviceName?: string
  /** Offline devices seen within this long still get fragments queued for them, ms. Default 10 min. */
  knownForMs?: number
}

/** What the pool uses. */
export interface PoolStripeIOComponents {
  pool: ChunkPool
  store: FragmentStore
  deviceId: string
  membership: Pick<Membership, 'peers' | 'get' | 'addEventListener' | 'removeEventListener'>
  fragments: FragmentClient
  queue: SpreadQueue
  logger: ComponentLogger
  /** Read-repair: called when a read finds a fragment missing or corrupt on a device. */
  onBadFragment?: (stripe: PlacedStripe, index: number, device: string, found: BadFragment) => void
  /** Ops of other devices' journals not here yet (RetrieveDeps.journalBehind). */
  journalBehind?: () => number
  /** The failure domain a device declared (placement.ts `domainSpread`); none: every device its own. */
  domainOf?: (device: string) => string | undefined
}

/** Time spent per phase since start, ms (summed over concurrent calls), and event counts (for benchmarks and status). */
export interface PoolStats {
  stripesWritten: number
  stripesRead: number
  /** Encoding in the chunk pool. */
  encodeMs: number
  /** From encoded to the durability rule holding (fragments acknowledged, shortfall queued). */
  storeMs: number
  /** Whole reads (fetch + decode). */
  readMs: number
  /** Gathering k fragments. */
  fetchMs: number
  /** Decoding in the chunk pool. */
  decodeMs: number
  /** Hedged read requests sent. */
  hedges: number
  /** Fragments queued for spreading. */
  queued: number
  /** Reads that failed with FragmentsUnavailableError. */
  readFailures: number
  /** Fragment bytes sent to other devices by writes. */
  bytesSent: number
  /** Fragment bytes writes did not send because the device already held them (same CID). */
  bytesDeduplicated: number
}

export class PoolStripeIO implements StripeIO, FragmentRebuilder {
  readonly #c: PoolStripeIOComponents
  readonly #policy: StripePolicy
  readonly #durability: DurabilityMode
  readonly #devices: DeviceTable
  readonly #writer: WriterDeps
  readonly #reader: RetrieveDeps
  readonly #shutdown = new AbortController()
  readonly #log: Logger
  readonly #stats: Omit<PoolStats, 'bytesSent' | 'bytesDeduplicated'> = { stripesWritten: 0, stripesRead: 0, encodeMs: 0, storeMs: 0, readMs: 0, fetchMs: 0, decodeMs: 0, hedges: 0, queued: 0, readFailures: 0 }
  readonly #readCounters = { fetchMs: 0, decodeMs: 0, hedges: 0 }
  readonly #sender: FragmentSender

  constructor (init: PoolStripeIOInit, components: PoolStripeIOComponents) {
    this.#c = components
    this.#policy = init.policy ?? DEFAULT_LOCAL_POLICY
    this.#durability = init.durability ?? 'all'
    this.#log = components.logger.forComponent('palm:place:pool')
    const stats = new DeviceStats()
    this.#devices = new DeviceTable({ deviceId: components.deviceId, deviceName: init.deviceName ?? components.deviceId, knownForMs: init.knownForMs ?? 10 * 60_000 }, { membership: components.membership, store: components.store, stats, domainOf: components.domainOf })
    const sender = this.#sender = new FragmentSender({ timeoutMs: init.placeTimeoutMs ?? 10_000 }, { fragments: components.fragments, stats, shutdown: this.#shutdown.signal })
    this.#writer = { devices: this.#devices, sender, store: components.store, log: this.#log }
    this.#reader = { devices: this.#devices, fragments: components.fragments, store: components.store, pool: components.pool, log: this.#log, readFailMs: init.readFailMs ?? 5000, hedgeMinMs: init.hedgeMinMs ?? 30, counters: this.#readCounters, onBadFragment: components.onBadFragment, journalBehind: components.journalBehind }
  }

  get devices (): DeviceTable { return this.#devices }

  async start (): Promise<void> {}

  /** Gives up on fragments still in flight. */
  async stop (): Promise<void> {
    this.#shutdown.abort()
  }

  stats (): PoolStats {
    const round = (x: number): number => Math.round(x)
    const s = { ...this.#stats, ...this.#readCounters, ...this.#sender.counters }
    return { ...s, encodeMs: round(s.encodeMs), storeMs: round(s.storeMs), readMs: round(s.readMs), fetchMs: round(s.fetchMs), decodeMs: round(s.decodeMs) }
  }

  async write (stripe: Uint8Array, policy: StripePolicy, options: StripeIOOptions = {}): Promise<PlacedStripe> {
    throwIfAborted(options.signal, 'stripe write')
    const t0 = performance.now()
    const encoded = await this.#c.pool.encode(stripe, policy, { signal: options.signal, keepStripe: true })
    const t1 = performance.now()
    let outcome
    try {
      outcome = await writeFragments(this.#writer, encoded, this.#durability, options)
      // The shortfall is on disk before the write reports done (and flushed, for a write that flushes).
      await this.#c.queue.add(outcome.queued, options)
      if (options.sync === true && outcome.queued.length > 0) await this.#c.queue.sync(options)
    } catch (err) {
      if (isNoRoom(err) && !(err instanceof NoSpaceError)) {
        throw new NoSpaceError(`no room to store ${options.file ?? `stripe ${encoded.id}`}: ${(err as Error).message}`, { cause: err, details: { file: options.file, stripe: encoded.id } })
      }
      throw err
    }
    this.#stats.stripesWritten++
    this.#stats.encodeMs += t1 - t0
    this.#stats.storeMs += performance.now() - t1
    this.#stats.queued += outcome.queued.length
    if (outcome.queued.length > 0) {
      this.#log('%s: %d fragments of stripe %s queued for devices that are missing (%s)', options.file ?? 'stripe', outcome.queued.length, encoded.id,
        [...new Set(outcome.queued.map(q => this.#devices.describe(q.target)))].join(', '))
    }
    const { length, id, k, n, codecId } = encoded
    return { length, id, k, n, codecId, fragments: encoded.fragments.map(f => f.cid.toString()), holders: outcome.holders }
  }

  async read (stripe: PlacedStripe, options: StripeIOOptions = {}): Promise<Uint8Array> {
    const t0 = performance.now()
    try {
      const data = await readStripe(this.#reader, stripe, options)
      this.#stats.stripesRead++
      return data
    } catch (err) {
      if ((err as Error).name === 'FragmentsUnavailableError') this.#stats.readFailures++
      throw err
    } finally {
      this.#stats.readMs += performance.now() - t0
    }
  }

  /** Repair: the fragments `wanted` of `stripe`, rebuilt from any k others (retrieve.ts). */
  async rebuild (stripe: PlacedStripe, wanted: number[], options: StripeIOOptions = {}): Promise<Fragment[]> {
    return await rebuildStripeFragments(this.#reader, stripe, wanted, options)
  }

  /** Stores go to other devices when any is online (the `local` rule keeps them here first). */
  flushWithStore (): boolean {
    return this.#durability !== 'local' && this.#c.membership.peers().some(p => p.online)
  }

  /** Every online holder flushes its fragments of `stripes`; each stripe needs k flushed. */
  async sync (stripes: PlacedStripe[], options: StripeIOOptions = {}): Promise<void> {
    const self = this.#devices.selfId
    const byDevice = new Map<string, Set<string>>()
    for (const s of stripes) {
      s.fragments.forEach((cid, i) => {
        const holders = holdersOf(s, i, self)
        for (const h of holders) {
          if (!this.#devices.online(h)) continue
          let set = byDevice.get(h)
          if (set == null) byDevice.set(h, set = new Set())
          set.add(cid)
        }
      })
    }
    const synced = new Set<string>()
    const failures: string[] = []
    await Promise.all([...byDevice].map(async ([device, cids]) => {
      try {
        const list = [...cids].map(c => CID.parse(c))
        if (device === self) await this.#c.store.sync(list, options)
        else await this.#c.fragments.sync(device, list, options)
        for (const c of cids) synced.add(`${device} ${c}`)
      } catch (err) {
        throwIfAborted(options.signal, 'sync')
        failures.push(`${this.#devices.describe(device)}: ${(err as Error).message}`)
      }
    }))
    await this.#c.queue.sync(options)
    for (const s of stripes) {
      const flushed = s.fragments.filter((cid, i) => holdersOf(s, i, self).some(h => synced.has(`${h} ${cid}`))).length
      if (flushed < Math.min(s.k, s.n)) {
        throw new IoError(`could not flush ${options.file ?? `stripe ${s.id}`} to stable storage: only ${flushed} of the ${s.k} fragments needed were flushed (${failures.join('; ') || 'their devices are offline'}); retry when the devices are back`,
          { details: { file: options.file, stripe: s.id } })
      }
    }
  }

  async health (stripe: PlacedStripe, options: AbortOptions = {}): Promise<StripeHealth> {
    const self = this.#devices.selfId
    const local = await Promise.all(stripe.fragments.map(async (cid, i) => holdersOf(stripe, i, self).includes(self) ? await this.#c.store.has(CID.parse(cid), options) : false))
    const devices = new Set<string>()
    let reachable = 0
    stripe.fragments.forEach((_, i) => {
      const live = holdersOf(stripe, i, self).filter(h => h === self ? local[i] : this.#devices.online(h))
      if (live.length === 0) return
      reachable++
      for (const h of live) devices.add(this.#devices.name(h))
    })
    return { reachable, needed: stripe.k, total: stripe.n, devices: [...devices].sort() }
  }

  usage (): PoolUsage {
    const figures = this.#devices.onlineFigures()
    return {
      usableFreeBytes: usableBytes(figures.map(f => f.freeBytes), this.#policy),
      usableCapacityBytes: usableBytes(figures.map(f => f.capacityBytes), this.#policy),
      rawCapacityBytes: figures.reduce((s, f) => s + f.capacityBytes, 0),
      rawUsedBytes: figures.reduce((s, f) => s + f.usedBytes, 0),
      devices: figures.length
    }
  }
}
