/**
 * The devices of the swarm as placement and retrieval see them: this device (its store's real
 * usage) and the peers of the membership view (announced capacity, corrected by what was sent to
 * them since and by refusals), with this device's observations of each (DeviceStats).
 *
 * An offline peer seen within `knownForMs` (the repair grace) is *expected back*: it restarts, it
 * is being found again after this device started (the peers file remembers it), or its network
 * blinked. Reads that need it wait for it (retrieve.ts), `palm mount` waits a short bound for it,
 * and status lists it as missing. A peer gone for longer is not waited for.
 */
import type { Membership, PeerState } from '../net/index.js'
import type { FragmentStore } from '../store/index.js'
import type { DeviceStats } from './device-stats.js'
import type { Candidate } from './placement.js'

/** How often a wait for devices looks again without a membership event, ms. */
const CHANGE_POLL_MS = 250

/** Settings of the device table. */
export interface DeviceTableInit {
  deviceId: string
  /** This device's name, for messages and `user.palm.health`. */
  deviceName: string
  /**
   * An offline device seen within this long is still a place fragments are *meant* for (they are
   * queued for it); older ones are left out, ms.
   */
  knownForMs: number
}

/** What the device table reads. */
export interface DeviceTableComponents {
  membership: Pick<Membership, 'peers' | 'get' | 'addEventListener' | 'removeEventListener'>
  store: Pick<FragmentStore, 'usage'>
  stats: DeviceStats
  /** The failure domain a device declared, if any (placement spreads over domains). */
  domainOf?: (device: string) => string | undefined
}

/** One device's figures for usage(). */
export interface DeviceFigures {
  id: string
  capacityBytes: number
  usedBytes: number
  freeBytes: number
}

export class DeviceTable {
  readonly selfId: string
  readonly #init: DeviceTableInit
  readonly #c: DeviceTableComponents

  constructor (init: DeviceTableInit, components: DeviceTableComponents) {
    this.selfId = init.deviceId
    this.#init = init
    this.#c = components
  }

  get stats (): DeviceStats { return this.#c.stats }

  #peerFree (p: PeerState): number {
    if (this.#c.stats.fullSince(p.id, p.lastSeenMs)) return 0
    return Math.max(0, p.freeBytes - this.#c.stats.unannounced(p.id, p.lastSeenMs))
  }

  /** Placement's view: this device, online peers and recently seen offline ones. */
  candidates (nowMs = Date.now()): Candidate[] {
    const domain = (id: string): { domain?: string } => { const d = this.#c.domainOf?.(id); return d != null && d !== '' ? { domain: d } : {} }
    const out: Candidate[] = [{ id: this.selfId, freeBytes: this.#c.store.usage().freeBytes, available: true, self: true, ...domain(this.selfId) }]
    for (const p of this.#c.membership.peers()) {
      if (!p.online && (p.lastSeenMs === 0 || nowMs - p.lastSeenMs > this.#init.knownForMs)) continue
      out.push({ id: p.id, freeBytes: this.#peerFree(p), available: p.online && this.#c.stats.healthy(p.id, nowMs), self: false, ...domain(p.id) })
    }
    return out
  }

  /** True for this device and for peers the membership lists as online. */
  online (id: string): boolean {
    return id === this.selfId || this.#c.membership.get(id)?.online === true
  }

  /** True for an offline peer seen within `knownForMs`: see the module comment. */
  expectedBack (id: string, nowMs = Date.now()): boolean {
    const p = this.#c.membership.get(id)
    return p != null && this.#isExpected(p, nowMs)
  }

  /** The peers expected back (offline, seen within `knownForMs`), sorted by id. */
  missing (nowMs = Date.now()): PeerState[] {
    return this.#c.membership.peers().filter(p => this.#isExpected(p, nowMs))
  }

  #isExpected (p: PeerState, nowMs: number): boolean {
    return !p.online && p.lastSeenMs > 0 && nowMs - p.lastSeenMs <= this.#init.knownForMs
  }

  /**
   * Resolves when a peer comes online, after `pollMs` (a backstop for membership changes that
   * raise no event), or when `signal` aborts; never rejects.
   */
  async changed (signal?: AbortSignal, pollMs = CHANGE_POLL_MS): Promise<void> {
    if (signal?.aborted === true) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#waiters.delete(done)
        if (this.#waiters.size === 0) this.#c.membership.removeEventListener('peer:online', this.#onOnline)
        resolve()
      }
      const timer = setTimeout(done, pollMs)
      signal?.addEventListener('abort', done)
      // One membership listener however many reads wait.
      if (this.#waiters.size === 0) this.#c.membership.addEventListener('peer:online', this.#onOnline)
      this.#waiters.add(done)
    })
  }

  readonly #waiters = new Set<() => void>()
  readonly #onOnline = (): void => { for (const w of [...this.#waiters]) w() }

  /** This device and the online peers, with their capacity figures. */
  onlineFigures (): DeviceFigures[] {
    const u = this.#c.store.usage()
    const out: DeviceFigures[] = [{ id: this.selfId, capacityBytes: u.capacityBytes, usedBytes: u.usedBytes, freeBytes: u.freeBytes }]
    for (const p of this.#c.membership.peers()) {
      if (p.online) out.push({ id: p.id, capacityBytes: p.capacityBytes, usedBytes: p.usedBytes, freeBytes: this.#peerFree(p) })
    }
    return out
  }

  /** The gossip round trip to `id`, ms, if measured. */
  rttMs (id: string): number | undefined {
    return id === this.selfId ? 0 : this.#c.membership.get(id)?.rttMs
  }

  /** The device's name ("nas"), or its id when it has not announced one. */
  name (id: string): string {
    if (id === this.selfId) return this.#init.deviceName
    const name = this.#c.membership.get(id)?.name ?? ''
    return name === '' ? id : name
  }

  /** "name (…last 6 of id)" for messages. */
  describe (id: string): string {
    const name = this.name(id)
    return name === id ? id : `${name} (…${id.slice(-6)})`
  }
}
