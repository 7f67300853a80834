/**
 * The VFS's door to stripe storage: encode + place on write, retrieve any k + decode on read.
 * On one device alone every fragment goes to the local store; in a pool they are spread over
 * devices by weighted rendezvous hashing (see place/index.ts).
 */
import type { Fragment } from '../chunk/index.js'
import type { AbortOptions } from '../util/abort.js'

export interface StripePolicy {
  k: number
  n: number
}

/**
 * What a read found wrong with one copy of a fragment (read-repair): `corrupt`, its bytes do not
 * match its CID (the holder's store quarantined them); `missing`, the holder has none (lost, or
 * moved away after the reader's manifest was written).
 */
export type BadFragment = 'corrupt' | 'missing'

/** Where an encoded stripe went (structurally the manifest's StripeRef without `index`). */
export interface PlacedStripe {
  length: number
  id: string
  k: number
  n: number
  codecId: number
  /** Fragment CIDs by fragment index. */
  fragments: string[]
  /** Devices holding each fragment, by fragment index. */
  holders: string[][]
  /**
   * Slices the manifest lays over this stripe (small overwrites, each stored as a stripe of its
   * own at `off`). StripeIO reads, syncs and checks the base alone; the VFS's read cache merges.
   */
  slices?: Array<PlacedStripe & { off: number }>
}

export interface StripeIOOptions extends AbortOptions {
  /** The file this is for, for logs and error messages ("/docs/a.txt"). */
  file?: string
  /**
   * `write` only: every fragment is also flushed to stable storage by the device that
   * acknowledges it before the write returns (an fsync's commit), so the stripe needs no `sync`
   * later. A remote device flushes on the same round trip as the store.
   */
  sync?: boolean
}

export interface StripeHealth {
  /** Fragments reachable now (on online devices, or local). */
  reachable: number
  needed: number
  total: number
  /** Device ids (or names) holding reachable fragments. */
  devices: string[]
}

export interface PoolUsage {
  /** What applications can still write: free space × k/n, bounded by what placement can use. */
  usableFreeBytes: number
  /** Total usable capacity (capacity × k/n). */
  usableCapacityBytes: number
  rawCapacityBytes: number
  rawUsedBytes: number
  devices: number
}

export interface StripeIO {
  /**
   * Encodes and stores one stripe. Returns when the durability rule holds (close point: fragments
   * written on their devices). NoSpaceError when no placement can take it.
   */
  write: (stripe: Uint8Array, policy: StripePolicy, options?: StripeIOOptions) => Promise<PlacedStripe>
  /** Rebuilds a stripe from any k fragments. FragmentsUnavailableError (EIO) within a bounded time. */
  read: (stripe: PlacedStripe, options?: StripeIOOptions) => Promise<Uint8Array>
  /**
   * Whether an fsync should store with `sync` (StripeIOOptions) rather than store, then `sync`:
   * true when fragments go to other devices, where the flush rides on the store's round trip;
   * false (or absent) when they stay here, where flushing after the store lets the journal's flush
   * run alongside the fragments' instead of after them. Either way is correct.
   */
  flushWithStore?: () => boolean
  /** Power-loss point: the stripes' fragments are on stable storage on their devices. */
  sync: (stripes: PlacedStripe[], options?: StripeIOOptions) => Promise<void>
  health: (stripe: PlacedStripe, options?: AbortOptions) => Promise<StripeHealth>
  usage: () => PoolUsage
}

/** Repair's way (the pool's StripeIO has it): missing fragments rebuilt from any k others, in the stripe's own format version, without a decode and a full re-encode. */
export interface FragmentRebuilder {
  /** The fragments `wanted` (indexes) of `stripe`, each matching its CID. FragmentsUnavailableError (EIO) within a bounded time. */
  rebuild: (stripe: PlacedStripe, wanted: number[], options?: StripeIOOptions) => Promise<Fragment[]>
}

/**
 * One fragment stored on another device than the one it is meant for (that device was offline or
 * failing when the stripe was written): the spreader copies it there when the device is back.
 */
export interface SpreadEntry {
  /** The fragment's CID (string form). */
  cid: string
  /** The device the fragment is meant for. */
  target: string
  /** Devices holding it now (where the copy comes from). */
  holders: string[]
  /** The stripe it belongs to (for logs). */
  stripe: string
  /** The file, when known (for logs). */
  file?: string
}

/** The shortfall of writes, waiting to be spread (persisted: a restart forgets nothing). */
export interface SpreadQueue {
  /** Records entries; resolves once they are written (a killed process keeps them). */
  add: (entries: SpreadEntry[], options?: AbortOptions) => Promise<void>
  /** Fragments waiting, over all devices. */
  count: () => number
  /** Entries recorded so far are on stable storage (power loss). */
  sync: (options?: AbortOptions) => Promise<void>
}
