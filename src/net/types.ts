/**
 * Types of the network layer: the node the daemon builds, its membership view and the fragment
 * client that placement uses. `net` knows nothing of files: fragments are CIDs and bytes.
 */
import type { AbortOptions } from '../util/abort.js'
import type { CID } from 'multiformats/cid'
import type { FragmentStore } from '../store/types.js'
import type { InviteAuthority } from './invite-exchange.js'
import type { FrameBudget, FrameBudgetStats } from './protocols/frame-budget.js'
import type { ComponentLogger, PeerId, PrivateKey, Stream, StreamHandler, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A peer given by its PeerId or its string form (what membership lists). */
export type PeerRef = PeerId | string

/** What this device says about itself every gossip interval (the daemon assembles it). */
export interface LocalHealth {
  /** Human name of the device ("nas", "alice-laptop"). */
  name: string
  /** Capacity offered to the swarm, bytes. */
  capacityBytes: number
  /** Bytes of fragments stored, bytes. */
  usedBytes: number
  /** Room left, bytes. */
  freeBytes: number
  fragmentCount: number
  /** Opaque head of the metadata journal (meta decides what it means). */
  journalHead: string
  /** PALM version string. */
  version: string
}

/** A health announcement as sent: LocalHealth plus the sender's uptime. */
export interface HealthAnnouncement extends LocalHealth {
  /** Time since the sender's node started, ms. */
  uptimeMs: number
}

/**
 * What this device knows about another device of the swarm: its last announcement (name,
 * capacity, usage, journal head, version, uptime; empty/zero if never heard) plus what this
 * device observed.
 */
export interface PeerState extends HealthAnnouncement {
  /** Peer id (base58 string). */
  id: string
  /** Heard from within `offlineAfterMs` and connected. */
  online: boolean
  /** Known addresses (multiaddr strings, without /p2p). */
  addrs: string[]
  /** When it was last heard from (Unix epoch ms; 0 = never). */
  lastSeenMs: number
  /** Round trip of the last acknowledged health push, ms. */
  rttMs?: number
}

export interface MembershipEvents {
  /** A peer came online (first announcement heard, or heard again after being offline). */
  'peer:online': CustomEvent<PeerState>
  /** A peer went offline (not heard within `offlineAfterMs`, or its last connection closed). */
  'peer:offline': CustomEvent<PeerState>
  /** An online peer sent a new announcement. */
  'peer:update': CustomEvent<PeerState>
}

/** The typed, evented view of the swarm's devices (not including this one). */
export interface Membership extends TypedEventTarget<MembershipEvents> {
  /** Every known peer (online or not), sorted by id. Copies: safe to keep. */
  peers: () => PeerState[]
  /** One peer's state, or undefined if unknown. */
  get: (id: string) => PeerState | undefined
  /** "name (id)" for logs and messages, or the bare id of a peer without a known name. */
  describe: (id: string) => string
}

/** A fragment to send. */
export interface FragmentItem {
  cid: CID
  bytes: Uint8Array
}

/** Options of a putMany. */
export interface PutOptions extends AbortOptions {
  /**
   * The peer also flushes the fragments to stable storage before the call resolves (an fsync's
   * commit): the SYNC goes right behind the PUT on the same stream, so the flush costs no extra
   * round trip. A fragment is `ok` only once it is stored and flushed.
   */
  sync?: boolean
}

/** The result of one fragment of a putMany, in input order. */
export type PutOutcome = { cid: CID, ok: true } | { cid: CID, ok: false, error: Error }

/**
 * Client of `/palm/fragment/1.0.0`. All errors are PalmErrors naming the peer (and CID):
 * NotFoundError, IntegrityError, QuotaExceededError, NoSpaceError, TimeoutError,
 * NotConnectedError (unreachable), ProtocolError, AbortedError. A call for this device's own peer id
 * goes to the local store directly.
 */
export interface FragmentClient {
  /** Stores one fragment on `peer`. Idempotent. */
  put: (peer: PeerRef, cid: CID, bytes: Uint8Array, options?: AbortOptions) => Promise<void>
  /**
   * Stores many fragments on `peer`: small ones packed into batches (one round trip per batch),
   * large ones one per frame, `putConcurrency` streams in flight. Resolves with one outcome per item
   * (a refusal or a lost connection fails only the items it touched); throws only when aborted.
   */
  putMany: (peer: PeerRef, items: FragmentItem[], options?: PutOptions) => Promise<PutOutcome[]>
  /** Fetches one fragment; the bytes are verified against `cid`. */
  get: (peer: PeerRef, cid: CID, options?: AbortOptions) => Promise<Uint8Array>
  /** Which of `cids` `peer` holds, in order (batched). */
  has: (peer: PeerRef, cids: CID[], options?: AbortOptions) => Promise<boolean[]>
  /** Removes fragments from `peer` (absent ones are not an error). */
  delete: (peer: PeerRef, cids: CID[], options?: AbortOptions) => Promise<void>
  /** Returns once `cids` (default: everything `peer` stored so far) are on stable storage there. */
  sync: (peer: PeerRef, cids?: CID[], options?: AbortOptions) => Promise<void>
}

/** Counters of one protocol's server side (and client-side protocol violations). */
export interface ProtocolCounters {
  /** Inbound streams handled. */
  streams: number
  /** Requests answered. */
  requests: number
  /** Frames that did not parse (stream reset). */
  malformed: number
  /** Frames over the size limit (stream reset). */
  oversized: number
  /** Well-formed frames of a type not allowed there (stream reset). */
  unexpected: number
  /** Requests or reads that timed out. */
  timeouts: number
  /** Other failures (I/O errors, resets by the peer). */
  errors: number
}

export interface NetStats {
  fragment: ProtocolCounters
  health: ProtocolCounters
  /** The memory budget for request frames in flight (fragment and journal servers). */
  frameBudget: FrameBudgetStats
  /** Connections refused by the swarm-key handshake (inbound and outbound). */
  refusedConnections: number
}

/** A provider of a CID found through the DHT. */
export interface ProviderInfo {
  id: string
  addrs: string[]
}

export interface PalmNodeEvents extends MembershipEvents {}

export interface MdnsInit {
  /** Discover peers on the local segment by mDNS (default true). */
  enabled?: boolean
  /** Service tag; only devices with the same tag see each other (default '_palm._udp.local'). */
  serviceTag?: string
  /** Query interval, ms (default 10000). */
  intervalMs?: number
}

export interface DhtInit {
  /** Run the LAN-only Kademlia DHT (default true). */
  enabled?: boolean
}

export interface PalmNodeInit {
  /** The device's identity. Default: a fresh Ed25519 key (a new peer id every start: tests only). */
  peerKey?: PrivateKey
  /** The 32-byte swarm key. Required: without it the node refuses to start (InvalidConfigError). */
  swarmKey?: Uint8Array
  /** Listen multiaddrs (default ['/ip4/0.0.0.0/tcp/0']). */
  listen?: string[]
  /**
   * Filters what is announced (identify, mDNS, DHT). Default: drop loopback addresses whenever
   * another address exists, so LAN peers never learn 127.0.0.1.
   */
  announceFilter?: (addrs: Multiaddr[]) => Multiaddr[]
  mdns?: MdnsInit
  dht?: DhtInit
  /** Addresses to dial at start and on every redial round (from the invite or config). */
  bootstrap?: string[]
  /** JSON file of known peers and their addresses, kept across restarts; they are redialled at start. */
  peersFile?: string
  /** Health push interval, ms (default 2000). */
  gossipIntervalMs?: number
  /** A peer not heard from for this long is offline, ms (default 3 × gossipIntervalMs + 1000). */
  offlineAfterMs?: number
  /** Interval between redial rounds of known, unconnected peers, ms (default 10000). */
  redialIntervalMs?: number
  /** Delay before the higher-id side of a discovery dials, ms (default 2500). */
  fallbackDialDelayMs?: number
  /** Dial timeout, ms (default 5000). */
  dialTimeoutMs?: number
  /** Timeout of one request and its reply, ms (default 30000). */
  requestTimeoutMs?: number
  /** Largest fragment sent or accepted, bytes (default 16 MiB). */
  maxFragmentBytes?: number
  /** Small fragments are packed into put frames up to this size, bytes (default 1 MiB). */
  batchBytes?: number
  /** Most fragments or CIDs in one frame (default 1024). */
  maxBatchCount?: number
  /** Streams in flight per putMany (default 4). */
  putConcurrency?: number
  /** Inbound fragment streams per connection (default 8; server memory ≤ this × frame size). */
  maxInboundStreams?: number
  /** Inbound connections per second per host before libp2p resets them (default 100). */
  inboundConnectionThreshold?: number
  /**
   * Bytes of request frames in flight one peer may hold here, over all its streams and connections
   * (default putConcurrency × (maxFragmentBytes + 4 KiB): that many full-size puts at once).
   */
  frameBudgetPerPeerBytes?: number
  /** Bytes of request frames in flight all peers together may hold here (default 4 × per peer). */
  frameBudgetTotalBytes?: number
}

export interface PalmNode extends TypedEventTarget<PalmNodeEvents> {
  start: () => Promise<void>
  stop: () => Promise<void>
  readonly peerId: PeerId
  /** Announced addresses, each ending in /p2p/<id> (empty before start). */
  multiaddrs: () => Multiaddr[]
  readonly membership: Membership
  readonly fragments: FragmentClient
  /** Dials a multiaddr (with or without /p2p) or a known peer; resolves with its peer id. */
  dial: (addr: Multiaddr | string | PeerId, options?: AbortOptions) => Promise<string>
  /** Announces on the DHT that this device holds `cid` (NotSupportedError when the DHT is off). */
  provide: (cid: CID, options?: AbortOptions) => Promise<void>
  /** Devices that announced `cid`. A default timeout of `requestTimeoutMs` applies without a signal. */
  findProviders: (cid: CID, options?: AbortOptions) => AsyncIterable<ProviderInfo>
  /** Ids of peers with an open connection. */
  connectedPeers: () => string[]
  /** Protocol counters. */
  stats: () => NetStats
  /** The memory budget for request frames in flight, shared by every protocol server of this node. */
  readonly frameBudget: FrameBudget
  /**
   * New connections need `swarmKey` from now on (re-keying after a removal); open connections stay.
   * InvalidArgumentError when it is not 32 bytes.
   */
  setSwarmKey: (swarmKey: Uint8Array) => void
  /** Closes every connection to `peer` (a device just removed from the swarm). */
  hangUp: (peer: PeerRef) => Promise<void>
  /** Registers a handler for another PALM protocol (e.g. the journal); swarm devices only. */
  handle: (protocol: string, handler: StreamHandler, options?: { maxInboundStreams?: number }) => Promise<void>
  /** Opens a stream of `protocol` to `peer` (dialling if needed). */
  openStream: (peer: PeerRef, protocol: string, options?: AbortOptions) => Promise<Stream>
}

export interface PalmNodeComponents {
  /** This device's fragment store, served to the swarm. */
  store: FragmentStore
  logger: ComponentLogger
  /** What to announce; called every gossip interval. */
  getHealth: () => LocalHealth
  /** Answers invite exchanges on the swarm port (none: such connections are closed). */
  invites?: InviteAuthority
  /**
   * Of a peer's DELETE, the CIDs this device must keep (any: the whole request is refused).
   * Absent: every peer DELETE is refused.
   */
  mayDelete?: (cids: CID[], peer: string, options: AbortOptions) => Promise<CID[]>
  /** Devices removed from the swarm: never dialled, and refused once noise names them. */
  isRemoved?: (peer: string) => boolean
  /**
   * A device dialled at `addr` holds another swarm key (this device may be behind a re-keying):
   * the daemon asks it for the current key (`fetchSwarmKey`).
   */
  onKeyMismatch?: (addr: string) => void
}
