/**
 * The libp2p 3 configuration of a PALM device: TCP, the swarm-key protector, noise, yamux,
 * identify, ping, optional mDNS (PALM service tag) and an optional LAN-only Kademlia DHT.
 */
import { identify } from '@libp2p/identify'
import { kadDHT, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { isLoopback } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CONNECTION_PING_TIMEOUT_MS, DHT_PROTOCOL, MAX_INCOMING_PENDING_CONNECTIONS } from './constants.js'
import { KeyedProtector } from './keyed-protector.js'
import { noisePrologue } from './protector.js'
import type { NodeSettings } from './settings.js'
import type { InviteAuthority } from './invite-exchange.js'
import type { ComponentLogger, ConnectionEncrypter, ServiceMap, StreamMuxerFactory } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What libp2p needs from the node's settings, plus its hooks. */
export type Libp2pSettings = Pick<NodeSettings, 'peerKey' | 'swarmKey' | 'listen' | 'announceFilter' | 'mdns' | 'dhtEnabled' | 'dialTimeoutMs' | 'inboundConnectionThreshold'> & {
  onRefused: () => void
  logger: ComponentLogger
  invites?: InviteAuthority
  isRemoved?: (peer: string) => boolean
  /** An outbound connection failed the key check (see keyed-protector.ts). */
  onKeyMismatch?: (addr: string) => void
  /** Gets the protector, whose key can change while the node runs (re-keying). */
  onProtector?: (protector: KeyedProtector) => void
}

/**
 * Default announce filter: loopback addresses are dropped whenever another address exists, so
 * LAN peers never learn 127.0.0.1; a node that only listens on loopback (tests) keeps them.
 */
export function defaultAnnounceFilter (addrs: Multiaddr[]): Multiaddr[] {
  const lan = addrs.filter(a => !isLoopback(a))
  return lan.length > 0 ? lan : addrs
}

export type PalmLibp2p = Libp2p<ServiceMap>

/**
 * Yamux stream windows, sized for 1 MiB fragments: a put frame of one fragment (1 MiB + a few
 * bytes) fits the first window, so it leaves in one frame without waiting for a window update; a
 * window grows (when the reader keeps up within 4 round trips) to 4 MiB, not yamux's 16 MiB, so a
 * ping, health push or small get queued behind four busy streams waits for 16 MiB at most, not
 * 64. Every device must use the same initial window (yamux assumes the peer's equals its own);
 * SWARM_HANDSHAKE_VERSION changes with it.
 */
export const STREAM_WINDOW_BYTES = 2 * 1024 * 1024
export const MAX_STREAM_WINDOW_BYTES = 4 * 1024 * 1024

/**
 * The connection encrypter of a swarm: noise, with the prologue derived from the swarm key (see
 * protector.ts). Every libp2p node of the swarm (tests and benchmarks too) must use this one.
 * `swarmKey` may be a getter of the key in force (re-keying, keyed-protector.ts): each handshake
 * uses the prologue of the key in force when it starts, so one that straddles a re-keying fails
 * its noise handshake and is dialled again under the new key.
 */
export function palmEncrypter (swarmKey: Uint8Array | (() => Uint8Array)): (components: any) => ConnectionEncrypter {
  const keyInForce = typeof swarmKey === 'function' ? swarmKey : () => swarmKey
  return (components: any) => {
    let last: { key: Uint8Array, noise: ConnectionEncrypter } | undefined
    const current = (): ConnectionEncrypter => {
      const key = keyInForce()
      if (last?.key !== key) last = { key, noise: noise({ prologueBytes: noisePrologue(key) })(components) }
      return last.noise
    }
    return {
      protocol: current().protocol,
      secureInbound: async (connection, options) => await current().secureInbound(connection, options),
      secureOutbound: async (connection, options) => await current().secureOutbound(connection, options)
    }
  }
}

/** The stream muxer of a swarm: yamux with PALM's windows (STREAM_WINDOW_BYTES). */
export function palmMuxer (): (components: any) => StreamMuxerFactory {
  return yamux({ streamOptions: { initialStreamWindowSize: STREAM_WINDOW_BYTES, maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES } })
}

export async function buildLibp2p (s: Libp2pSettings): Promise<PalmLibp2p> {
  const services: Record<string, (components: any) => unknown> = {
    identify: identify(),
    ping: ping()
  }
  if (s.dhtEnabled) {
    services.dht = kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: removePublicAddressesMapper,
      logPrefix: 'palm:net:dht',
      datastorePrefix: '/palm-dht'
    })
  }
  const protector = new KeyedProtector({
    swarmKey: s.swarmKey,
    onRefused: s.onRefused,
    ...(s.onKeyMismatch != null ? { onKeyMismatch: s.onKeyMismatch } : {}),
    ...(s.invites != null ? { invites: { authority: s.invites, deviceKey: s.peerKey } } : {})
  })
  s.onProtector?.(protector)
  return await createLibp2p({
    start: false,
    privateKey: s.peerKey,
    logger: s.logger,
    addresses: { listen: s.listen, announceFilter: s.announceFilter },
    transports: [tcp()],
    connectionProtector: () => protector,
    // The noise prologue follows the gate's key: after a re-keying, new connections need both.
    connectionEncrypters: [palmEncrypter(() => protector.swarmKey)],
    // A removed device holds the swarm key still (until a re-key): noise names it, and it is refused.
    connectionGater: s.isRemoved == null
      ? {}
      : {
          denyDialPeer: (peer) => s.isRemoved?.(peer.toString()) ?? false,
          denyInboundEncryptedConnection: (peer) => s.isRemoved?.(peer.toString()) ?? false,
          denyOutboundEncryptedConnection: (peer) => s.isRemoved?.(peer.toString()) ?? false
        },
    streamMuxers: [palmMuxer()],
    peerDiscovery: s.mdns.enabled ? [mdns({ serviceTag: s.mdns.serviceTag, interval: s.mdns.intervalMs })] : [],
    connectionManager: {
      inboundConnectionThreshold: s.inboundConnectionThreshold,
      // libp2p's default of 10 let ten idle outsider sockets block every inbound connection; the
      // protector caps handshakes per IP address and drops a missing hello after 1 s instead.
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      dialTimeout: s.dialTimeoutMs
    },
    // libp2p pings every connection each 10 s and aborts it when a ping takes over 5 s (adaptive).
    // A ping queues behind the bulk bytes already on the connection, and on a loaded device a
    // busy connection was aborted with every put and get on it (bench -- net at load 15-30).
    // Dead peers are still found: a killed process's kernel resets its sockets, and health pushes
    // mark a silent device offline after offlineAfterMs.
    connectionMonitor: { pingTimeout: { minTimeout: CONNECTION_PING_TIMEOUT_MS } },
    services
  })
}
