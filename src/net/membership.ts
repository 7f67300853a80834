/**
 * The membership view: one PeerState per device of the swarm, fed by health announcements and
 * connection events. A peer is online from its first announcement until it is not heard from
 * for `offlineAfterMs` or its last connection closes; events say when that changes.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { HealthAnnouncement, Membership, MembershipEvents, PeerState } from './types.js'
import type { Logger } from '@libp2p/interface'

export interface MembershipInit {
  /** Not heard from for this long → offline, ms. */
  offlineAfterMs: number
}

/** A peer remembered from the peers file (known, not yet heard this run). */
export interface KnownPeer {
  id: string
  name: string
  addrs: string[]
  lastSeenMs: number
}

function blank (id: string): PeerState {
  return {
    id,
    name: '',
    online: false,
    addrs: [],
    capacityBytes: 0,
    usedBytes: 0,
    freeBytes: 0,
    fragmentCount: 0,
    journalHead: '',
    version: '',
    uptimeMs: 0,
    lastSeenMs: 0
  }
}

export class MembershipView extends TypedEventEmitter<MembershipEvents> implements Membership {
  readonly #peers = new Map<string, PeerState>()
  readonly #offlineAfterMs: number
  readonly #log: Logger

  constructor (init: MembershipInit, log: Logger) {
    super()
    this.#offlineAfterMs = init.offlineAfterMs
    this.#log = log
  }

  peers (): PeerState[] {
    return [...this.#peers.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0).map(p => ({ ...p, addrs: [...p.addrs] }))
  }

  get (id: string): PeerState | undefined {
    const p = this.#peers.get(id)
    return p == null ? undefined : { ...p, addrs: [...p.addrs] }
  }

  /** "name (id)" or the id alone, for messages. */
  describe (id: string): string {
    const name = this.#peers.get(id)?.name ?? ''
    return name === '' ? id : `${name} (${id})`
  }

  /** Adds peers from the peers file as known and offline (never overrides what was heard this run). */
  remember (known: KnownPeer[]): void {
    for (const k of known) {
      if (this.#peers.has(k.id)) continue
      this.#peers.set(k.id, { ...blank(k.id), name: k.name, addrs: [...k.addrs], lastSeenMs: k.lastSeenMs })
    }
  }

  /** An announcement arrived from `id`. */
  heard (id: string, a: HealthAnnouncement, nowMs = Date.now()): void {
    const prev = this.#peers.get(id) ?? blank(id)
    const next: PeerState = { ...prev, ...a, lastSeenMs: nowMs, online: true }
    this.#peers.set(id, next)
    if (!prev.online) {
      this.#log('peer %s is online', this.describe(id))
      this.safeDispatchEvent('peer:online', { detail: this.get(id) })
    } else {
      this.safeDispatchEvent('peer:update', { detail: this.get(id) })
    }
  }

  setAddrs (id: string, addrs: string[]): void {
    const p = this.#peers.get(id)
    if (p != null && addrs.length > 0) p.addrs = addrs
  }

  setRtt (id: string, rttMs: number): void {
    const p = this.#peers.get(id)
    if (p != null) p.rttMs = rttMs
  }

  /** The last connection to `id` closed. */
  disconnected (id: string): void {
    this.#markOffline(id, 'its last connection closed')
  }

  /** Marks peers not heard from within `offlineAfterMs` offline. */
  checkTimeouts (nowMs = Date.now()): void {
    for (const p of this.#peers.values()) {
      if (p.online && nowMs - p.lastSeenMs > this.#offlineAfterMs) this.#markOffline(p.id, `not heard from for ${nowMs - p.lastSeenMs} ms`)
    }
  }

  #markOffline (id: string, why: string): void {
    const p = this.#peers.get(id)
    if (p == null || !p.online) return
    p.online = false
    this.#log('peer %s is offline: %s', this.describe(id), why)
    this.safeDispatchEvent('peer:offline', { detail: this.get(id) })
  }
}
