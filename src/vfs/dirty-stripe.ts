/**
 * The pieces of an open file's dirty state: one dirty stripe, its background store, where a
 * reader finds a stripe, and how big a buffer a stripe needs.
 */
import type { PlacedStripe } from '../place/types.js'
import type { SliceRef, StripeRef } from '../meta/types.js'
import { MAX_DIRTY_RANGES, MIN_BUFFER_BYTES } from './constants.js'
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
  /**
   * The stored stripe the buffer was loaded from (with the slices this state stored over it since
   * its last commit): a commit may store the dirty ranges as slices over it. Undefined: store whole.
   */
  over?: SliceBase
  /** Dirty byte ranges [start, end) of the buffer, sorted and disjoint; undefined: store whole. */
  ranges?: Array<[number, number]>
  /** Bytes in `ranges`. */
  rangeBytes: number
  /**
   * A sparse stripe (docs/vfs.md, "Sparse writes"): only the written bytes, one patch per range of
   * `ranges`, laid over `over` (which a reader or a whole store fetches); `buf` is empty then. A
   * small write into a stored stripe needs no read of it. Patches are never changed in place (a
   * store in flight may hold them): a write lays a new list.
   */
  patches?: Patch[]
}

/** Bytes written at `off` of a sparse stripe. */
export interface Patch {
  off: number
  bytes: Uint8Array
}

/** A committed stripe (its slices included) and the slices stored over it, not yet committed. */
export interface SliceBase {
  ref: StripeRef
  added: SliceRef[]
  /** The open file's count of remote changes when `ref` was read (OpenFile.forgetLastCommit). */
  seenAt: number
}

/** The ref a reader needs: the committed stripe with the added slices after its own. */
export function withAdded (b: SliceBase): StripeRef {
  return b.added.length === 0 ? b.ref : { ...b.ref, slices: [...(b.ref.slices ?? []), ...b.added] }
}

/** Adds [start, end) to a stripe's dirty ranges (merging touching ones); too many ranges: store whole. */
export function addRange (e: DirtyStripe, start: number, end: number): void {
  const ranges = e.ranges
  if (ranges == null || end <= start) return
  let a = start
  let b = end
  const out: Array<[number, number]> = []
  let bytes = 0
  let placed = false
  for (const r of ranges) {
    if (r[1] < a) { out.push(r); bytes += r[1] - r[0]; continue }
    if (r[0] > b) {
      if (!placed) { out.push([a, b]); bytes += b - a; placed = true }
      out.push(r)
      bytes += r[1] - r[0]
      continue
    }
    a = Math.min(a, r[0])
    b = Math.max(b, r[1])
  }
  if (!placed) { out.push([a, b]); bytes += b - a }
  if (out.length > MAX_DIRTY_RANGES) { e.ranges = undefined; return }
  e.ranges = out
  e.rangeBytes = bytes
}

/**
 * Lays `bytes` at `off` over sorted, disjoint patches and returns the new list: patches it overlaps
 * or touches are merged into one new array with it (its bytes on top); the others are shared, and
 * no array of `patches` is written to.
 */
export function layPatch (patches: readonly Patch[], off: number, bytes: Uint8Array): Patch[] {
  const end = off + bytes.length
  const before: Patch[] = []
  const after: Patch[] = []
  const merged: Patch[] = []
  for (const p of patches) {
    const pEnd = p.off + p.bytes.length
    if (pEnd < off) before.push(p)
    else if (p.off > end) after.push(p)
    else merged.push(p)
  }
  // A copy (new Uint8Array, not slice: on a Buffer that is a view): the binding reuses its buffer.
  if (merged.length === 0) return [...before, { off, bytes: new Uint8Array(bytes) }, ...after]
  const start = Math.min(off, merged[0].off)
  const last = merged[merged.length - 1]
  const out = new Uint8Array(Math.max(end, last.off + last.bytes.length) - start)
  for (const p of merged) out.set(p.bytes, p.off - start)
  out.set(bytes, off - start)
  return [...before, { off: start, bytes: out }, ...after]
}

/** Writes a sparse stripe's bytes into `out`: `base` up to `length` (zeros past it), then `patches`. */
export function layOver (out: Uint8Array, base: Uint8Array, length: number, patches: readonly Patch[]): void {
  out.set(base.subarray(0, Math.min(base.length, length)))
  for (const p of patches) out.set(p.bytes, p.off)
}

/** Where a stripe's bytes are, as the read path needs to know. */
export type StripeSource =
  | { kind: 'bytes', bytes: Uint8Array }
  /** A sparse stripe: `ref`'s bytes (zeros past them) with `patches` laid over, `length` bytes in all. */
  | { kind: 'patched', ref: PlacedStripe, patches: readonly Patch[], length: number }
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

/** Dirty buffers at least this large are shared memory (stripeBuffer); a copy of less costs little. */
export const SHARED_BUFFER_MIN_BYTES = 64 * 1024

/**
 * A new, zeroed buffer of `bytes` for a dirty stripe. Large ones are shared memory, so that the
 * chunk pool's worker reads a stripe being stored in place instead of taking a 4 MiB copy of it
 * (src/chunk/ownership.ts): before huge pages, that copy took ~40 % of the mount daemon's
 * main-thread page faults in a sequential write. Sound because the write buffer never writes into
 * a buffer a store is reading: a write while its stripe is stored goes to a copy (copy on write).
 */
export function stripeBuffer (bytes: number): Uint8Array {
  return bytes >= SHARED_BUFFER_MIN_BYTES ? new Uint8Array(new SharedArrayBuffer(bytes)) : new Uint8Array(bytes)
}
