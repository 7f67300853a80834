/**
 * The local fragment store: content-addressed, every read verified. Used by `place` for this
 * device's fragments and by `net` to serve other devices.
 *
 * Durability points (see README "Durability"): `put` returns once the fragment is written to a
 * file in the home (the kernel holds it: a killed process loses nothing); `sync` returns once the
 * named fragments (or all written so far) are on stable storage. Concurrent syncs are group-committed.
 */
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../util/abort.js'

export interface StoreUsage {
  /** Configured capacity offered to the swarm, in bytes (bounded by the disk's real free space). */
  capacityBytes: number
  /** Bytes used by stored fragments. */
  usedBytes: number
  /** min(capacity - used, disk free space), in bytes. */
  freeBytes: number
  fragmentCount: number
}

export interface FragmentStore {
  /**
   * Stores a fragment. Idempotent. Verifies `bytes` against `cid` first (IntegrityError).
   * QuotaExceededError when the capacity would be exceeded; NoSpaceError when the disk is full.
   */
  put: (cid: CID, bytes: Uint8Array, options?: AbortOptions) => Promise<void>
  /** Returns the fragment, verified against its CID. NotFoundError if absent; IntegrityError if corrupt (the bad copy is quarantined). */
  get: (cid: CID, options?: AbortOptions) => Promise<Uint8Array>
  has: (cid: CID, options?: AbortOptions) => Promise<boolean>
  /** Removes a fragment; absent is not an error. */
  delete: (cid: CID, options?: AbortOptions) => Promise<void>
  /** Flushes the given fragments (default: everything written so far) to stable storage. */
  sync: (cids?: CID[], options?: AbortOptions) => Promise<void>
  /** Every stored fragment's CID. */
  list: (options?: AbortOptions) => AsyncIterable<CID>
  usage: () => StoreUsage
  start: () => Promise<void>
  stop: () => Promise<void>
}

/** One stored fragment as GC and fsck see it. */
export interface FragmentEntry {
  cid: CID
  sizeBytes: number
  /** When the fragment was last put (a repeated put of a stored fragment counts), ms since the epoch. */
  storedAtMs: number
}

/**
 * What garbage collection needs beyond FragmentStore: fragment ages and a delete that checks the
 * age under the store's own lock, so a put that re-stores a fragment while GC runs always wins.
 */
export interface FragmentAges {
  /** Every stored fragment with its size and age. */
  entries: (options?: AbortOptions) => AsyncIterable<FragmentEntry>
  /** Deletes the fragment if it was last put before `cutoffMs` (ms since the epoch); returns whether it did. */
  deleteIfOlder: (cid: CID, cutoffMs: number, options?: AbortOptions) => Promise<boolean>
  /** Gives back disk space freed by deletes (pack compaction), if the store needs that. */
  compact?: (options?: AbortOptions) => Promise<unknown>
}
