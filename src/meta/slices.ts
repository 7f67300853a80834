/**
 * Slices of a stripe (docs/vfs.md, "Small overwrites: slices"): checks of a manifest's slices, and
 * the stripe's parts, each a stored stripe of its own (base first, then its slices in order), for
 * every walk over fragments (GC's referenced set, repair, fsck, status).
 */
import { InvalidArgumentError } from '../errors.js'
import { MAX_SLICES_PER_STRIPE } from './constants.js'
import { checkInt } from './names.js'
import type { SliceRef, StoredStripe, StripeRef } from './types.js'

/** A slice rebuilt from its known fields only (no arrays shared with the caller). */
export function copySlice (s: SliceRef): SliceRef {
  return { off: s.off, length: s.length, id: s.id, k: s.k, n: s.n, codecId: s.codecId, fragments: [...s.fragments], holders: s.holders.map(h => [...h]) }
}

/** InvalidArgumentError unless `s` is a well-formed slice of stripe `index` (stripes of `stripeSize` bytes, a file of `size`). */
export function checkSlice (s: SliceRef, index: number, stripeSize: number, size: number, ino: number): void {
  const what = `slice ${String(s?.id)} of stripe ${index} of inode ${ino}`
  if (s == null || typeof s !== 'object') throw new InvalidArgumentError(`${what} is not a slice reference`)
  checkInt(s.off, `${what}: offset`, 0, stripeSize - 1)
  checkInt(s.length, `${what}: length`, 1, stripeSize - s.off)
  if (index * stripeSize + s.off + s.length > size) throw new InvalidArgumentError(`${what} ends at byte ${index * stripeSize + s.off + s.length}, past the file size ${size}`)
  checkStored(s, what)
}

/** InvalidArgumentError unless the fields of a stored stripe (a base or a slice) are well formed: k/n, codec, id, fragments, holders. */
export function checkStored (s: StoredStripe, what: string): void {
  checkInt(s.n, `${what}: n`, 1, 255)
  checkInt(s.k, `${what}: k`, 1, s.n)
  checkInt(s.codecId, `${what}: codec id`, 0, 0xffff)
  if (typeof s.id !== 'string' || s.id === '') throw new InvalidArgumentError(`${what} has no stripe id`)
  if (!Array.isArray(s.fragments) || s.fragments.length !== s.n || !s.fragments.every(f => typeof f === 'string' && f !== '')) {
    throw new InvalidArgumentError(`${what} must list exactly n = ${s.n} fragment CIDs`)
  }
  if (!Array.isArray(s.holders) || (s.holders.length !== 0 && s.holders.length !== s.n) ||
    !s.holders.every(h => Array.isArray(h) && h.every(d => typeof d === 'string'))) {
    throw new InvalidArgumentError(`${what} must list holders for none or all of its ${s.n} fragments`)
  }
}

/** InvalidArgumentError unless a stripe may carry `count` slices. */
export function checkSliceCount (count: number, index: number, ino: number): void {
  if (count > MAX_SLICES_PER_STRIPE) {
    throw new InvalidArgumentError(`stripe ${index} of inode ${ino} would carry ${count} slices, over the ${MAX_SLICES_PER_STRIPE} a manifest allows: the writer must store the whole stripe instead`, { details: { ino } })
  }
}

/** The stripe without its slices (its base). */
export function baseOf<T extends { slices?: unknown }> (s: T): T {
  if (s.slices === undefined) return s
  const { slices: _, ...base } = s
  return base as T
}

/** A slice as a stripe ref of stripe `index`: its own id, length, k/n, fragments and holders. */
export function sliceAsStripe (index: number, s: SliceRef): StripeRef {
  return { index, length: s.length, id: s.id, k: s.k, n: s.n, codecId: s.codecId, fragments: s.fragments, holders: s.holders }
}

/** Every stored stripe of a manifest entry: the base, then each slice (as sliceAsStripe). */
export function partsOf (s: StripeRef): StripeRef[] {
  if (s.slices == null || s.slices.length === 0) return [baseOf(s)]
  return [baseOf(s), ...s.slices.map(x => sliceAsStripe(s.index, x))]
}

/** The stripe's bytes once its slices are laid over its base: the longer of the base and the slices' ends. */
export function mergedLength (s: { length: number, slices?: SliceRef[] }): number {
  let len = s.length
  for (const x of s.slices ?? []) len = Math.max(len, x.off + x.length)
  return len
}
