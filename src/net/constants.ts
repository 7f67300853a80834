/**
 * Protocol ids and default limits of the network layer. Every default is also stated in the JSDoc
 * of the PalmNodeInit field that overrides it.
 */

/** Fragment protocol: put/get/has/delete/sync of content-addressed fragments. */
export const FRAGMENT_PROTOCOL = '/palm/fragment/1.0.0'
/** Health and capacity push, one message per stream, acknowledged. */
export const HEALTH_PROTOCOL = '/palm/health/1.0.0'
/** LAN-only Kademlia (the full protocol id, not a prefix). */
export const DHT_PROTOCOL = '/palm/lan/kad/1.0.0'
/** Default mDNS service tag: PALM devices only answer PALM queries. */
export const DEFAULT_SERVICE_TAG = '_palm._udp.local'
/** Version byte at the start of every fragment-protocol frame. */
export const FRAGMENT_WIRE_VERSION = 1
/** Version field of health announcements. */
export const HEALTH_WIRE_VERSION = 1

/**
 * Version byte of the swarm-key handshake (protector.ts), the first byte a device sends on a new
 * connection. 2: the gate's tags carry the sender's role, no stream cipher after the gate, noise's
 * prologue derived from the swarm key, yamux windows of 1 MiB. Devices of another version refuse
 * each other, which also keeps the two yamux window sizes from meeting on one connection.
 */
export const SWARM_HANDSHAKE_VERSION = 2

/** Default listen addresses. */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0']
/** Health push interval, ms. */
export const DEFAULT_GOSSIP_INTERVAL_MS = 2_000
/** How long to wait between redial rounds for known but unconnected peers, ms. */
export const DEFAULT_REDIAL_INTERVAL_MS = 10_000
/** mDNS query interval, ms (libp2p's default). */
export const DEFAULT_MDNS_INTERVAL_MS = 10_000
/**
 * On discovery the peer with the lower id dials at once; the other waits this long and dials only
 * if still unconnected (so a peer that cannot see our announcements is still reached), ms.
 */
export const DEFAULT_FALLBACK_DIAL_DELAY_MS = 2_500
/** Dial timeout, ms. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000
/** Per-request timeout of the fragment and health protocols (one request and its reply), ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** Largest fragment accepted or sent, bytes (a 4 MiB stripe at k=1 plus header fits easily). */
export const DEFAULT_MAX_FRAGMENT_BYTES = 16 * 1024 * 1024
/** Room for the frame header, the CID and the length prefixes around one fragment, bytes. */
export const FRAME_OVERHEAD_BYTES = 4096
/** Fragments are packed into one put frame up to this many bytes. */
export const DEFAULT_BATCH_BYTES = 1024 * 1024
/** At most this many fragments (or CIDs) in one frame. */
export const DEFAULT_MAX_BATCH_COUNT = 1024
/** Parallel streams used by one putMany. */
export const DEFAULT_PUT_CONCURRENCY = 4
/** Concurrent inbound fragment streams per connection (bounds server memory: this × frame size). */
export const DEFAULT_MAX_INBOUND_STREAMS = 8
/** Incoming connections per second per host before libp2p resets them (libp2p's default is 5). */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 100
/** Inbound connections in their handshake at once, all hosts (libp2p's default is 10). */
export const MAX_INCOMING_PENDING_CONNECTIONS = 256
/** Shortest time libp2p's connection monitor waits for a ping before it aborts the connection, ms (libp2p: 5 s). */
export const CONNECTION_PING_TIMEOUT_MS = 15_000
/** Largest health message, bytes. */
export const MAX_HEALTH_MESSAGE_BYTES = 4096
/** After a failed dial, wait at least this long before the next automatic dial of that peer, ms. */
export const MIN_DIAL_BACKOFF_MS = 1_000
/** The backoff doubles per failure up to this, ms. */
export const MAX_DIAL_BACKOFF_MS = 60_000
/** The peers file keeps at most this many peers (most recently seen first). */
export const MAX_PERSISTED_PEERS = 1024
/** While peers are online, the peers file is rewritten at least this often (fresh last-seen times), ms. */
export const PEERS_FILE_REFRESH_MS = 60_000
/** Addresses kept per persisted peer. */
export const MAX_PERSISTED_ADDRS = 16

/** Journal replication: version vectors, pull of missing ranges, push of new ops. */
export const JOURNAL_PROTOCOL = '/palm/journal/1.0.0'
/** Version byte at the start of every journal-protocol frame. */
export const JOURNAL_WIRE_VERSION = 1
/** Vector exchange timer, ms (an exchange happens when our vector changed, or every full interval). */
export const DEFAULT_JOURNAL_SYNC_INTERVAL_MS = 2_000
/** Unconditional vector exchange with each online peer (anti-entropy), ms. */
export const DEFAULT_JOURNAL_FULL_SYNC_INTERVAL_MS = 30_000
/**
 * A push to a peer starts at least this long after the one before it, ms (the first after a quiet
 * spell goes at once): ops committed meanwhile travel together, so a peer pays one message, one
 * apply and one commit for them instead of one each (docs/journal.md, "Small pushes").
 */
export const DEFAULT_JOURNAL_PUSH_GAP_MS = 100
/** Most ops per pull reply or push frame. */
export const DEFAULT_JOURNAL_BATCH_OPS = 2048
/** About this many bytes of ops per pull reply or push frame. */
export const DEFAULT_JOURNAL_BATCH_BYTES = 1024 * 1024
/** Largest journal frame, bytes. */
export const DEFAULT_JOURNAL_MAX_FRAME_BYTES = 8 * 1024 * 1024
/** Ops queued per peer for pushing before the queue is dropped (the peer pulls instead). */
export const DEFAULT_JOURNAL_MAX_QUEUED_OPS = 16_384
/** Bytes queued per peer for pushing before the same. */
export const DEFAULT_JOURNAL_MAX_QUEUED_BYTES = 8 * 1024 * 1024
/** Pushed (unsolicited) ops accepted per peer per second before its pushes are refused as a flood. */
export const DEFAULT_JOURNAL_MAX_PUSH_OPS_PER_SEC = 50_000
/** Inbound journal streams per connection. */
export const DEFAULT_JOURNAL_MAX_INBOUND_STREAMS = 2
/** Most authors in one vector (devices that ever wrote to the swarm). */
export const MAX_JOURNAL_AUTHORS = 4096
/**
 * Most ops between two seals (ops with a signature: the unsigned ops before one are vouched for by
 * it). A sender ends each author's run in a frame on a seal, so a frame may hold this many ops more
 * than asked for; receivers allow for it. Writers seal at least this often (meta's SEAL_MAX_OPS).
 */
export const JOURNAL_SEAL_SPACING_OPS = 64
/** Longest author id on the wire, bytes (a peer id is ~52). */
export const MAX_JOURNAL_AUTHOR_BYTES = 128
/** Longest signature on the wire, bytes (Ed25519: 64). */
export const MAX_JOURNAL_SIG_BYTES = 128
