/**
 * PalmNode: one libp2p node plus PALM's discovery policy, membership, health push and fragment
 * protocol. Built by `createPalmNode`; the constructor does no I/O, libp2p is created in start().
 */
import { setMaxListeners } from 'node:events'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { repeatingTask, type RepeatingTask } from '@libp2p/utils'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { BusyError, InvalidArgumentError, InvalidConfigError, NotConnectedError, NotSupportedError } from '../errors.js'
import { combineSignals, type AbortOptions } from '../util/abort.js'
import { Lifecycle } from '../util/startable.js'
import { PEERS_FILE_REFRESH_MS } from './constants.js'
import { createCounters } from './counters.js'
import { Dialer } from './dialer.js'
import { buildLibp2p, type PalmLibp2p } from './libp2p-config.js'
import type { KeyedProtector } from './keyed-protector.js'
import { MembershipView } from './membership.js'
import { loadPeersFile, savePeersFile } from './peers-file.js'
import { FragmentClientImpl } from './protocols/fragment-client.js'
import { FragmentServer } from './protocols/fragment-server.js'
import { HealthService } from './protocols/health.js'
import { FrameBudget } from './protocols/frame-budget.js'
import { resolveSettings, type NodeSettings } from './settings.js'
import type { NetStats, PalmNode, PalmNodeComponents, PalmNodeEvents, PalmNodeInit, PeerRef, ProviderInfo } from './types.js'
import type { Logger, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Runs start/stop hooks with the idempotence rules of util/startable. */
class Hooks extends Lifecycle {
  constructor (private readonly up: () => Promise<void>, private readonly down: () => Promise<void>) { super() }
  protected async onStart (): Promise<void> { await this.up() }
  protected async onStop (): Promise<void> { await this.down() }
}

const MEMBERSHIP_EVENTS = ['peer:online', 'peer:offline', 'peer:update'] as const

export class PalmNodeImpl extends TypedEventEmitter<PalmNodeEvents> implements PalmNode {
  readonly peerId: PeerId
  readonly membership: MembershipView
  readonly fragments: FragmentClientImpl
  readonly #s: NodeSettings
  readonly #c: PalmNodeComponents
  readonly #log: Logger
  readonly #shutdown = new AbortController()
  readonly frameBudget: FrameBudget
  readonly #stats: Omit<NetStats, 'frameBudget'> = { fragment: createCounters(), health: createCounters(), refusedConnections: 0 }
  readonly #hooks = new Hooks(async () => { await this.#start() }, async () => { await this.#stop() })
  readonly #handlers: Array<{ protocol: string, handler: StreamHandler, options: { maxInboundStreams?: number } }> = []
  #libp2p?: PalmLibp2p
  #protector?: KeyedProtector
  /** The key set by setSwarmKey (undefined: the one of the settings). */
  #swarmKey?: Uint8Array
  #health?: HealthService
  #dialer?: Dialer
  #redial?: RepeatingTask
  #offlineTimer?: ReturnType<typeof setInterval>
  #saveTimer?: ReturnType<typeof setTimeout>
  #startedAtMs = 0
  #savedAtMs = 0

  constructor (init: PalmNodeInit, components: PalmNodeComponents) {
    super()
    setMaxListeners(Infinity, this.#shutdown.signal)
    this.#s = resolveSettings(init)
    this.#c = components
    this.frameBudget = new FrameBudget({ perPeerBytes: this.#s.frameBudgetPerPeerBytes, totalBytes: this.#s.frameBudgetTotalBytes })
    this.#log = components.logger.forComponent('palm:net')
    this.peerId = peerIdFromPrivateKey(this.#s.peerKey)
    this.membership = new MembershipView({ offlineAfterMs: this.#s.offlineAfterMs }, components.logger.forComponent('palm:net:membership'))
    for (const type of MEMBERSHIP_EVENTS) {
      this.membership.addEventListener(type, (evt) => { this.safeDispatchEvent(type, { detail: evt.detail }) })
    }
    this.membership.addEventListener('peer:online', () => { this.#scheduleSave() })
    this.fragments = new FragmentClientImpl(this.#s, {
      peerId: this.peerId,
      dialProtocol: async (peer, protocol, options) => await this.#node().dialProtocol(peer, protocol, options),
      store: components.store,
      describePeer: (id) => this.membership.describe(id),
      counters: this.#stats.fragment,
      shutdown: this.#shutdown.signal,
      log: components.logger.forComponent('palm:net:fragment-client')
    })
  }

  async start (): Promise<void> { await this.#hooks.start() }
  async stop (): Promise<void> { await this.#hooks.stop() }

  #node (): PalmLibp2p {
    if (this.#libp2p == null || this.#shutdown.signal.aborted) throw new NotConnectedError('the PALM network node is not running; start it first')
    return this.#libp2p
  }

  async #start (): Promise<void> {
    const s = this.#s
    const libp2p = await buildLibp2p({
      ...s,
      onRefused: () => { this.#stats.refusedConnections++ },
      logger: this.#c.logger,
      invites: this.#c.invites,
      isRemoved: this.#c.isRemoved,
      onKeyMismatch: this.#c.onKeyMismatch,
      onProtector: (p) => { this.#protector = p; if (this.#swarmKey != null) p.setKey(this.#swarmKey) }
    })
    this.#libp2p = libp2p
    const dialer = this.#dialer = new Dialer({ fallbackDialDelayMs: s.fallbackDialDelayMs }, {
      peerId: this.peerId,
      isConnected: (peer) => libp2p.getConnections(peer).length > 0,
      dial: async (target) => await libp2p.dial(target, { signal: AbortSignal.any([this.#shutdown.signal, AbortSignal.timeout(s.dialTimeoutMs)]) }),
      log: this.#log
    })
    const health = this.#health = new HealthService({ intervalMs: s.gossipIntervalMs, timeoutMs: Math.min(s.requestTimeoutMs, Math.max(5_000, s.gossipIntervalMs * 2)) }, {
      registrar: libp2p,
      dialProtocol: async (peer, protocol, options) => await libp2p.dialProtocol(peer, protocol, options),
      connectedPeers: () => libp2p.getPeers(),
      announcement: () => ({ ...this.#c.getHealth(), uptimeMs: Date.now() - this.#startedAtMs }),
      onAnnouncement: (peer, a) => { this.membership.heard(peer, a); void this.#refreshAddrs(peer) },
      onRtt: (peer, rttMs) => { this.membership.setRtt(peer, rttMs) },
      counters: this.#stats.health,
      logger: this.#c.logger,
      shutdown: this.#shutdown.signal
    })
    const server = new FragmentServer(s, { store: this.#c.store, logger: this.#c.logger, registrar: libp2p, counters: this.#stats.fragment, shutdown: this.#shutdown.signal, mayDelete: this.#c.mayDelete, budget: this.frameBudget })

    libp2p.addEventListener('peer:discovery', (evt) => { dialer.discovered(evt.detail.id) })
    libp2p.addEventListener('peer:connect', (evt) => { dialer.connected(evt.detail); void health.push(evt.detail) })
    libp2p.addEventListener('peer:disconnect', (evt) => { this.membership.disconnected(evt.detail.toString()); health.forget(evt.detail.toString()) })

    await server.start()
    await health.start()
    for (const h of this.#handlers) await libp2p.handle(h.protocol, h.handler, h.options)
    this.#startedAtMs = Date.now()
    try {
      await libp2p.start()
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err)
      const Cls = msg.includes('EADDRINUSE') ? BusyError : InvalidConfigError
      throw new Cls(`the network could not listen on ${s.listen.join(', ')} (${msg.split('\n').find(l => l.includes('Error:'))?.trim() ?? msg.split('\n')[0]}); choose another --listen address or stop what uses the port`, { cause: err, details: { listen: s.listen } })
    }
    this.#log('started %p on %s', this.peerId, libp2p.getMultiaddrs().map(String).join(' '))

    if (s.peersFile != null) {
      const known = await loadPeersFile(s.peersFile, this.#log)
      this.membership.remember(known)
      for (const k of known) {
        try {
          await libp2p.peerStore.merge(peerIdFromString(k.id), { multiaddrs: k.addrs.map(a => multiaddr(a)) })
        } catch (err) {
          this.#log.error('ignoring peers-file entry %s - %e', k.id, err)
        }
      }
    }
    for (const p of this.membership.peers()) dialer.consider(peerIdFromString(p.id), true)
    this.#redial = repeatingTask(() => { this.#redialRound() }, s.redialIntervalMs, { runImmediately: true })
    this.#redial.start()
    this.#offlineTimer = setInterval(() => { this.membership.checkTimeouts() }, Math.max(100, Math.min(1_000, Math.floor(s.offlineAfterMs / 4))))
    this.#offlineTimer.unref?.()
  }

  /** Dials known but unconnected peers and the bootstrap addresses. */
  #redialRound (): void {
    const libp2p = this.#libp2p
    const dialer = this.#dialer
    if (libp2p == null || dialer == null || this.#shutdown.signal.aborted) return
    const peers = this.membership.peers()
    for (const p of peers) {
      if (!p.online) dialer.consider(peerIdFromString(p.id))
    }
    // Keep the file's last-seen times fresh: after a kill -9 the next start judges by them which
    // devices are expected back (seen within the repair grace) and worth waiting for.
    if (peers.some(p => p.online) && Date.now() - this.#savedAtMs >= PEERS_FILE_REFRESH_MS) this.#scheduleSave()
    for (const text of this.#s.bootstrap) {
      try {
        const ma = multiaddr(text)
        const id = ma.getComponents().findLast(c => c.code === CODE_P2P)?.value
        if (id != null && (id === this.peerId.toString() || libp2p.getConnections(peerIdFromString(id)).length > 0)) continue
        if (id == null && libp2p.getConnections().some(c => c.remoteAddr.equals(ma))) continue
        dialer.dialAddr(ma)
      } catch (err) {
        this.#log.error('bootstrap address %s is not a multiaddr - %e', text, err)
      }
    }
  }

  async #refreshAddrs (id: string): Promise<void> {
    try {
      const peer = await this.#node().peerStore.get(peerIdFromString(id))
      this.membership.setAddrs(id, peer.addresses.map(a => a.multiaddr.toString()))
    } catch {}
  }

  #scheduleSave (): void {
    if (this.#s.peersFile == null || this.#saveTimer != null || this.#shutdown.signal.aborted) return
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined
      void this.#savePeers()
    }, 1_000)
    this.#saveTimer.unref?.()
  }

  async #savePeers (): Promise<void> {
    if (this.#s.peersFile == null) return
    this.#savedAtMs = Date.now()
    const known = []
    for (const p of this.membership.peers()) {
      if (p.addrs.length === 0) {
        // heard from moments ago: the addresses may still be only in the peer store
        const stored = await this.#libp2p?.peerStore.get(peerIdFromString(p.id)).catch(() => undefined)
        p.addrs = stored?.addresses.map(a => a.multiaddr.toString()) ?? []
      }
      if (p.addrs.length > 0) known.push(p)
    }
    try {
      await savePeersFile(this.#s.peersFile, known)
    } catch (err) {
      this.#log.error('could not save the peers file %s - %e', this.#s.peersFile, err)
    }
  }

  async #stop (): Promise<void> {
    this.#shutdown.abort()
    this.#redial?.stop()
    if (this.#offlineTimer != null) clearInterval(this.#offlineTimer)
    if (this.#saveTimer != null) clearTimeout(this.#saveTimer)
    this.#dialer?.stop()
    this.#health?.stop()
    this.fragments.close()
    await this.#savePeers()
    await this.#libp2p?.stop()
    this.#log('stopped')
  }

  multiaddrs (): Multiaddr[] {
    return this.#libp2p?.getMultiaddrs() ?? []
  }

  async dial (addr: Multiaddr | string | PeerId, options: AbortOptions = {}): Promise<string> {
    let target: Multiaddr | PeerId
    try {
      target = typeof addr === 'string' ? (addr.startsWith('/') ? multiaddr(addr) : peerIdFromString(addr)) : addr
    } catch (err) {
      throw new InvalidArgumentError(`"${String(addr)}" is neither a multiaddr nor a peer id`, { cause: err })
    }
    const { signal, clear } = combineSignals([options.signal, this.#shutdown.signal], this.#s.dialTimeoutMs)
    try {
      const conn = await this.#node().dial(target, { signal })
      return conn.remotePeer.toString()
    } catch (err) {
      throw this.fragments.mapError(err, String(addr), 'dial', options.signal)
    } finally {
      clear()
    }
  }

  #dht (what: string): PalmLibp2p['contentRouting'] {
    if (!this.#s.dhtEnabled) throw new NotSupportedError(`${what} needs the DHT, which is switched off on this device (dht.enabled)`)
    return this.#node().contentRouting
  }

  async provide (cid: CID, options: AbortOptions = {}): Promise<void> {
    const routing = this.#dht('provide')
    const { signal, clear } = combineSignals([options.signal, this.#shutdown.signal], options.signal == null ? this.#s.requestTimeoutMs : undefined)
    try {
      await routing.provide(cid, { signal })
    } finally {
      clear()
    }
  }

  async * findProviders (cid: CID, options: AbortOptions = {}): AsyncIterable<ProviderInfo> {
    const routing = this.#dht('findProviders')
    const { signal, clear } = combineSignals([options.signal, this.#shutdown.signal], options.signal == null ? this.#s.requestTimeoutMs : undefined)
    try {
      for await (const p of routing.findProviders(cid, { signal })) {
        yield { id: p.id.toString(), addrs: p.multiaddrs.map(String) }
      }
    } finally {
      clear()
    }
  }

  connectedPeers (): string[] {
    return this.#libp2p?.getPeers().map(String) ?? []
  }

  stats (): NetStats {
    return { fragment: { ...this.#stats.fragment }, health: { ...this.#stats.health }, refusedConnections: this.#stats.refusedConnections, frameBudget: this.frameBudget.stats() }
  }

  setSwarmKey (swarmKey: Uint8Array): void {
    if (swarmKey.byteLength !== this.#s.swarmKey.byteLength) throw new InvalidArgumentError(`a swarm key is ${this.#s.swarmKey.byteLength} bytes, got ${swarmKey.byteLength}`)
    this.#swarmKey = swarmKey.slice()
    this.#protector?.setKey(this.#swarmKey)
    this.#log('new connections use the swarm key of a re-keying from now on')
    this.#dialer?.forgetBackoff()
    this.#redialRound()
  }

  async hangUp (peer: PeerRef): Promise<void> {
    await this.#node().hangUp(typeof peer === 'string' ? peerIdFromString(peer) : peer)
  }

  async handle (protocol: string, handler: StreamHandler, options: { maxInboundStreams?: number } = {}): Promise<void> {
    this.#handlers.push({ protocol, handler, options })
    if (this.#libp2p != null) await this.#libp2p.handle(protocol, handler, options)
  }

  async openStream (peer: PeerRef, protocol: string, options: AbortOptions = {}): Promise<Stream> {
    const id = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const { signal, clear } = combineSignals([options.signal, this.#shutdown.signal], this.#s.dialTimeoutMs)
    try {
      return await this.#node().dialProtocol(id, protocol, { signal })
    } catch (err) {
      throw this.fragments.mapError(err, this.membership.describe(id.toString()), `open ${protocol}`, options.signal)
    } finally {
      clear()
    }
  }
}
