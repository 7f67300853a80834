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
