/**
 * The pieces of an open file's dirty state: one dirty stripe, its background store, where a
 * reader finds a stripe, and how big a buffer a stripe needs.
 */
import type { PlacedStripe } from '../place/types.js'
import { MIN_BUFFER_BYTES } from './constants.js'
import type { Charge } from './dirty-budget.js'

/** A background store of one stripe snapshot. */
export interface StoreJob {
  gen: number
  charge: Charge
  promise: Promise<void>
}

/** One dirty stripe: `buf[0, length)` is its data; bytes past `length` up to the stripe size read as zeros. */
export interface DirtyStripe {
  readonly index: number
  buf: Uint8Array
  charge: Charge
  length: number
  /** Bumped by every change: a store result is kept only if its gen is still current. */
  gen: number
  /** Full, and the last write reached its end: store now (sequential pipeline). */
  ready: boolean
  /** The last store failed: not spilled again until a commit retries it. */
  failed: boolean
  dropped: boolean
  storing?: StoreJob
}

/** Where a stripe's bytes are, as the read path needs to know. */
export type StripeSource =
  | { kind: 'bytes', bytes: Uint8Array }
  | { kind: 'ref', ref: PlacedStripe }
  | { kind: 'hole' }
  | { kind: 'committed' }

/**
 * Buffer capacity for `need` bytes: powers of two from MIN_BUFFER_BYTES, at most the stripe size;
 * the whole stripe at once when `need` is a quarter of it or more. A sequential writer (1 MiB FUSE
 * writes into 4 MiB stripes) thus allocates each stripe once instead of growing 1 → 2 → 4 MiB with
 * two copies, and fewer large allocations mean fewer full GCs (V8 collects by external memory).
 */
export function capacityFor (stripeSize: number, need: number): number {
  if (need * 4 >= stripeSize) return stripeSize
  let cap = MIN_BUFFER_BYTES
  while (cap < need) cap *= 2
  return Math.min(cap, stripeSize)
}
