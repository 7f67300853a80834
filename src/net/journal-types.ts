/**
 * The seam between journal replication (`/palm/journal/1.0.0`, in net) and the journal itself (meta,
 * adapted by the daemon). net never parses an op's body: an op is its author, its seq, the exact
 * signed text and the signature. Checking signatures, authors and admission is the replica's job.
 */
import type { AbortOptions } from '../util/abort.js'
import type { ProtocolCounters } from './types.js'

/** A signed journal op as exchanged: the exact signed text and its signature; net never parses body. */
export interface WireOp {
  /** Device id of the author. */
  author: string
  /** Per-author sequence number, 1, 2, … without gaps. */
  seq: number
  /** The exact signed text. */
  body: string
  /**
   * The author's Ed25519 signature of `body` on a seal; empty on the ops before it, which the
   * seal vouches for through the hash chain in the bodies (meta/seal.ts). Whoever sends ops ends
   * each author's run on a seal.
   */
  sig: Uint8Array
}

/** What one `applyOps` did. */
export interface ApplyReport {
  /** Ops applied now. */
  applied: number
  /** Ops already held (sent twice, or by two peers). */
  duplicates: number
  /**
   * Ops refused, with a reason: 'gap' (an earlier op of that author is missing: pull first),
   * 'late' (this journal cannot order it yet), or why it is bad (malformed, forged, unknown author).
   */
  refused: Array<{ author: string, seq: number, reason: string }>
}

/** What journal replication needs from the journal (the daemon adapts the MetaStore to it). */
export interface JournalReplica {
  /** Highest seq held per author (ops 1..n of each author are all held). Called often: keep it in memory. */
  versionVector: () => Map<string, number>
  /**
   * Ops of `author` with seq > after, in seq order, ending on a seal: about `limit` ops and
   * `maxBytes` bytes (cut back to the last seal within them, or past them to the first one).
   */
  readOps: (author: string, after: number, limit: number, maxBytes: number, options?: AbortOptions) => Promise<WireOp[]>
  /**
   * Applies ops received from `peer`. Malformed, forged or unadmitted ops are refused in the report,
   * never thrown; the batch's good ops still apply. Ops that leave a gap in an author's seq are
   * refused (reason 'gap') so that the caller pulls.
   */
  applyOps: (ops: WireOp[], peer: string, options?: AbortOptions) => Promise<ApplyReport>
  /** Ops that became durable here (local commits), in seq order, for pushing. Returns an unsubscribe. */
  onLocalOps: (listener: (ops: WireOp[]) => void) => () => void
  /** Commits local ops answered but not committed yet, so that onLocalOps hands them over (a stopping device pushes them). */
  commitPending?: (options?: AbortOptions) => Promise<void>
}

/** Replication counters of one peer (what `palm status` shows per device). */
export interface PeerJournalStats {
  id: string
  /** Ops received from this peer (pushed or pulled). */
  opsReceived: number
  opsApplied: number
  /** Ops received that were already held. */
  opsDuplicate: number
  /** Ops refused (gap, late, malformed, forged, unknown author). */
  opsRefused: number
  /** Ops pushed to this peer. */
  opsPushed: number
  /** Pushes of this peer refused because it sent faster than `maxPushOpsPerSec`. */
  floodRefusals: number
  /** Ops this peer holds that this device lacks (its last known vector against ours). */
  opsBehind: number
  /** Ops this device holds that this peer lacks (its journal lag as seen from here). */
  peerLag: number
  /** When the last pull from it, or push to it, completed (Unix epoch ms; 0 = never). */
  lastSyncMs: number
  /** Its version vector is known (a vector exchange or pull succeeded since start). */
  vectorKnown: boolean
}

export interface JournalStats {
  /** Ops held by this device (sum of the version vector). */
  opsHeld: number
  /** Authors in the version vector. */
  authors: number
  peers: PeerJournalStats[]
  /** Server-side protocol counters (streams, requests, malformed, oversized, unexpected, timeouts, errors). */
  protocol: ProtocolCounters
}

export interface JournalSyncInit {
  /** Vector exchange with each online peer when ours changed, or at least every `fullSyncIntervalMs`; the timer's period, ms (default 2000). */
  syncIntervalMs?: number
  /** Unconditional vector exchange with each online peer this often (anti-entropy), ms (default 30000). */
  fullSyncIntervalMs?: number
  /** A push to a peer starts at least this long after its previous one; ops committed meanwhile go together, ms (default 100; 0: each commit at once). */
  pushGapMs?: number
  /** Most ops per pull reply or push frame (default 2048). */
  batchOps?: number
  /** About this many bytes of ops per pull reply or push frame (default 1 MiB). */
  batchBytes?: number
  /** Largest frame accepted or sent, bytes (default 8 MiB; an op larger than this cannot replicate). */
  maxFrameBytes?: number
  /** Ops queued for pushing to one peer before the queue is dropped and the peer pulls instead (default 16384). */
  maxQueuedOps?: number
  /** Bytes queued for pushing to one peer before the same (default 8 MiB). */
  maxQueuedBytes?: number
  /** Unsolicited (pushed) ops accepted per peer per second; more is refused as a flood and pulled later (default 50000). */
  maxPushOpsPerSec?: number
  /** One request and its reply, ms (default 30000). */
  requestTimeoutMs?: number
  /** Inbound journal streams per connection (default 2). */
  maxInboundStreams?: number
}

/** Journal replication: push of local ops, pull of missing ranges, vector exchange, counters. */
export interface JournalSync {
  start: () => Promise<void>
  stop: () => Promise<void>
  stats: () => JournalStats
  /** The last version vector each peer sent (peers whose vector is known since start). Copies. */
  peerVectors: () => Map<string, Map<string, number>>
}
