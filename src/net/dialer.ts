/**
 * Who dials whom. When two devices discover each other at once and both dial, they end up with two
 * connections; so on discovery only the peer with the lower id dials at once, and the other dials
 * after `fallbackDialDelayMs` only if still unconnected (it may see announcements the lower one
 * does not, e.g. across subnets). Failed dials back off exponentially per peer, so a device
 * that cannot connect (wrong swarm key, gone) is not hammered.
 */
import { MAX_DIAL_BACKOFF_MS, MIN_DIAL_BACKOFF_MS } from './constants.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface DialerInit {
  fallbackDialDelayMs: number
}

export interface DialerComponents {
  peerId: PeerId
  isConnected: (peer: PeerId) => boolean
  /** Dials a peer id (known addresses) or a multiaddr; rejects on failure. */
  dial: (target: PeerId | Multiaddr) => Promise<unknown>
  log: Logger
}

interface Backoff {
  untilMs: number
  delayMs: number
  /** The peer refused us for a wrong swarm key: rediscovering it is no reason to try sooner. */
  refused: boolean
}

function isRefusal (err: unknown): boolean {
  for (let e = err as { name?: string, cause?: unknown, errors?: unknown[] } | undefined, i = 0; e != null && i < 5; e = e.cause as typeof e, i++) {
    if (e.name === 'PermissionError') return true
    if (Array.isArray(e.errors) && e.errors.some(isRefusal)) return true
  }
  return false
}

export class Dialer {
  readonly #init: DialerInit
  readonly #c: DialerComponents
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>()
  readonly #backoff = new Map<string, Backoff>()
  readonly #inFlight = new Set<string>()
  #stopped = false

  constructor (init: DialerInit, components: DialerComponents) {
    this.#init = init
    this.#c = components
  }

  /**
   * A peer was discovered or is known and unconnected: dial it now or later per the rule above.
   * `now` skips the rule (a restarted device redialling its peers file: they cannot know its new
   * address yet, so nobody else will dial).
   */
  consider (peer: PeerId, now = false): void {
    const id = peer.toString()
    if (this.#stopped || peer.equals(this.#c.peerId) || this.#c.isConnected(peer) || this.#timers.has(id)) return
    if (now || this.#c.peerId.toString() < id) {
      void this.#dial(peer, id)
      return
    }
    const timer = setTimeout(() => {
      this.#timers.delete(id)
      if (!this.#c.isConnected(peer)) void this.#dial(peer, id)
    }, this.#init.fallbackDialDelayMs)
    timer.unref?.()
    this.#timers.set(id, timer)
  }

  /** Dials an address (bootstrap / invite) unless it is backing off. */
  dialAddr (addr: Multiaddr): void {
    void this.#dial(addr, addr.toString())
  }

  /** Fresh evidence that `peer` is reachable (an announcement at a new address): forget its backoff. */
  discovered (peer: PeerId): void {
    if (this.#backoff.get(peer.toString())?.refused === false) this.#backoff.delete(peer.toString())
    this.consider(peer)
  }

  /** A connection to `peer` opened: forget its backoff. */
  connected (peer: PeerId): void {
    this.#backoff.delete(peer.toString())
  }

  /** Every peer may be dialled again at once (this device's swarm key changed: old refusals say nothing). */
  forgetBackoff (): void {
    this.#backoff.clear()
  }

  stop (): void {
    this.#stopped = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }

  async #dial (target: PeerId | Multiaddr, key: string): Promise<void> {
    const b = this.#backoff.get(key)
    if (this.#stopped || this.#inFlight.has(key) || (b != null && Date.now() < b.untilMs)) return
    this.#inFlight.add(key)
    try {
      await this.#c.dial(target)
      this.#backoff.delete(key)
    } catch (err) {
      const delayMs = Math.min(MAX_DIAL_BACKOFF_MS, (b?.delayMs ?? MIN_DIAL_BACKOFF_MS / 2) * 2)
      this.#backoff.set(key, { untilMs: Date.now() + delayMs, delayMs, refused: isRefusal(err) })
      if (!this.#stopped) this.#c.log('dial %s failed (next try in %d ms) - %s', key, delayMs, (err as Error)?.message)
    } finally {
      this.#inFlight.delete(key)
    }
  }
}
