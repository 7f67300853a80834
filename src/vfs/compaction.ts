/**
 * Compaction of slices (docs/vfs.md, "Small overwrites: slices"): a stripe whose slices reach
 * COMPACT_SLICES or COMPACT_SLICE_BYTES is, in the background, read merged (from the read cache),
 * stored as a new base at the file's k/n, flushed, and recorded with a `reencode` op that names
 * the slices it merged: the op applies only while the stripe is still that base with those slices
 * first (slices appended meanwhile stay, laid over the new base), and moves no version, size or
 * time, so it never makes a conflict copy. A compaction that lost the race (the stripe was
 * rewritten, or another device's slices replaced those it merged) records nothing: its copy is
 * garbage for GC. One compaction runs at a time; each stripe is queued at most once.
 */
import type { StripeRef } from '../meta/types.js'
import type { StripePolicy } from '../place/types.js'
import { COMPACT_SLICE_BYTES, COMPACT_SLICES } from './constants.js'
import type { VfsCore } from './core.js'

/** True when a committed stripe carries enough slices to be worth compacting. */
export function needsCompaction (ref: StripeRef): boolean {
  const slices = ref.slices ?? []
  if (slices.length >= COMPACT_SLICES) return true
  let bytes = 0
  for (const s of slices) bytes += s.length
  return bytes >= COMPACT_SLICE_BYTES
}

/** Queues the compaction of stripe `ref` of `ino` (committed as it is, slices and all). */
export function compactLater (core: VfsCore, ino: number, ref: StripeRef, policy: StripePolicy): void {
  const key = `${ino}/${ref.index}`
  if (core.compacting.has(key) || core.controller.signal.aborted) return
  core.compacting.add(key)
  const job = core.compactLimiter.run(async () => await compact(core, ino, ref, policy))
    .catch((err) => {
      // Stopping ends compactions: nothing to report then.
      if (core.controller.signal.aborted) core.log.trace('compaction of stripe %d of inode %d stopped: %s', ref.index, ino, (err as Error).message)
      else core.log('compacting stripe %d of inode %d failed (its slices stay): %s', ref.index, ino, (err as Error).message)
    })
    .finally(() => { core.compacting.delete(key); core.compactions.delete(job) })
  core.compactions.add(job)
}

async function compact (core: VfsCore, ino: number, ref: StripeRef, policy: StripePolicy): Promise<void> {
  // A Set of numbers: two compactions never start in the same ms (one runs at a time).
  const since = Date.now()
  core.compactingSince.add(since)
  try {
    await compactPinned(core, ino, ref, policy)
  } finally {
    core.compactingSince.delete(since)
  }
}

async function compactPinned (core: VfsCore, ino: number, ref: StripeRef, policy: StripePolicy): Promise<void> {
  const signal = core.controller.signal
  const file = `inode ${ino}`
  const bytes = await core.cache.get(ref, file, { signal })
  // The new base is on stable storage before the journal names it (its devices flush it as they
  // store it): an fsync of the file after this op need not know of it, and the op may reach the
  // disk with any later journal flush.
  const placed = await core.stripes.write(bytes, policy, { file, signal, sync: true })
  const merged = (ref.slices ?? []).map(s => s.id)
  const recorded = await core.meta.reencodeStripe(ino, ref.index, ref.id, { index: ref.index, ...placed }, { signal, merged })
  if (!recorded) {
    core.log.trace('stripe %d of inode %d changed while it was compacted: its copy is garbage for GC', ref.index, ino)
    return
  }
  core.counters.stripesCompacted++
  core.cache.put(placed.id, bytes)
  // The op moves no time: refs the VFS kept of this stripe (base and slices) are stale.
  core.refs.drop(ino)
  core.inodes.get(ino)?.file?.forgetLastCommit()
}
