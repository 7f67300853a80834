import { BadHandleError, IsDirectoryError } from '../../errors.js'
import { mergedLength } from '../../meta/index.js'
import type { Attr } from '../../meta/types.js'
import type { PlacedStripe } from '../../place/types.js'
import { raceSignal, type AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { Handle } from '../handles.js'
import type { VfsContext } from '../types.js'
import type { OpenFile } from '../write-buffer.js'

/**
 * Reads up to `size` bytes at `offset` (short only at end of file). Each stripe comes from the
 * open-file state (dirty bytes or a stored-but-uncommitted ref), the read cache, or meta's
 * manifest; holes and the gap between a short stripe and the next read as zeros without a fetch.
 * A sequential reader triggers read-ahead of the next stripes. A read waits for the writes of the
 * inode that reached the VFS before it (write-order.ts).
 */
export async function read (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, offset: number, size: number, options: AbortOptions): Promise<Uint8Array> {
  const h = core.handles.get(fh, ino, 'file')
  if (!h.readable) throw new BadHandleError(`handle ${fh} of ${await core.pathOf(ino)} was not opened for reading`)
  // The kernel may read back a page whose WRITE it queued before this READ: answer after it.
  const earlier = core.writeOrder.before(ino)
  if (earlier != null) await raceSignal(earlier, options.signal, `reading inode ${ino} (waiting for its writes)`)
  const file = core.inodes.get(ino)?.file
  // An open file knows its size and stripe size; the committed attr (hot in meta's memory) is
  // needed for a closed file, and to key the ref cache when committed stripes are read.
  let attr: Attr | undefined
  let fileSize: number
  let ss: number
  if (file != null) {
    fileSize = file.size
    ss = file.stripeSize
  } else {
    attr = await core.meta.getattr(ino, options)
    if (attr.type === 'dir') throw new IsDirectoryError(`${await core.pathOf(ino)} is a directory`)
    fileSize = attr.size
    ss = (await core.refs.stripeSize(attr, options)) ?? core.settings.stripeSizeBytes
  }
  const end = Math.min(offset + size, fileSize)
  if (end <= offset) return new Uint8Array(0)
  const first = Math.floor(offset / ss)
  const last = Math.floor((end - 1) / ss)
  // `refs` holds the committed refs of the stripes that were committed when it was taken; a stripe
  // of an open file committed since then (its close ran meanwhile) is asked for again.
  const committedThen = file == null ? undefined : committedStripes(file, first, last)
  let refs: Map<number, PlacedStripe> | undefined
  if (committedThen == null || committedThen.size > 0) {
    // Right after a commit (an fsync) the open file knows what it recorded: no manifest query.
    if (committedThen != null) refs = await file?.lastCommitted(committedThen, options)
    refs ??= await core.refs.refs(attr ?? await core.meta.getattr(ino, options), first, last, options)
  }
  const known = (i: number): Map<number, PlacedStripe> | undefined => committedThen == null || committedThen.has(i) ? refs : undefined
  if (first === last) {
    // The usual case (1 MiB reads in 4 MiB stripes): a view of the cached stripe, no copy.
    const view = await cachedView(core, ino, file, known(first), first, offset - first * ss, end - offset, options)
    if (view != null) {
      core.counters.bytesRead += view.length
      readAhead(core, h, ino, file, ss, fileSize, offset, view.length, last)
      return view
    }
  }
  const out = new Uint8Array(end - offset)
  for (let i = first; i <= last; i++) {
    const src = file?.sourceOf(i) ?? { kind: 'committed' as const }
    let bytes: Uint8Array | undefined
    if (src.kind === 'bytes') bytes = src.bytes
    else if (src.kind === 'patched') {
      // A sparse dirty stripe: what it lies over, then the bytes written since (zeros between).
      try {
        bytes = await core.cache.get(src.ref, `inode ${ino}`, options)
      } catch (err) {
        throw await core.wrap(err, ino, 'reading')
      }
      // The stripe as it was when this read looked (patches are never changed in place).
      copyStripe(out, offset, end, i * ss, bytes.subarray(0, Math.min(bytes.length, src.length)))
      for (const p of src.patches) copyStripe(out, offset, end, i * ss + p.off, p.bytes)
      continue
    } else if (src.kind === 'ref' || src.kind === 'committed') {
      const committed = known(i)
      let ref = src.kind === 'ref' ? src.ref : committed?.get(i)
      if (ref == null && src.kind === 'committed' && committed == null) {
        // Committed while we were fetching earlier stripes: ask again for this one.
        ref = (await core.meta.getStripes(ino, i, i + 1, options))[0]
      }
      if (ref != null) {
        try {
          bytes = await core.cache.get(ref, `inode ${ino}`, options)
        } catch (err) {
          throw await core.wrap(err, ino, 'reading')
        }
      }
    }
    if (bytes != null) copyStripe(out, offset, end, i * ss, bytes)
  }
  core.counters.bytesRead += out.length
  readAhead(core, h, ino, file, ss, fileSize, offset, out.length, last)
  return out
}

/**
 * `length` bytes at `at` of stripe `index` as a view of its decoded bytes in the read cache, when
 * they come from there (committed or stored content, not dirty buffers a write may still change)
 * and the stripe holds them all; else undefined and the caller copies. Cached stripes are never
 * written to, and the binding copies a reply before anything else runs.
 */
async function cachedView (core: VfsCore, ino: number, file: OpenFile | undefined, refs: Map<number, PlacedStripe> | undefined, index: number, at: number, length: number, options: AbortOptions): Promise<Uint8Array | undefined> {
  const src = file?.sourceOf(index) ?? { kind: 'committed' as const }
  const ref = src.kind === 'ref' ? src.ref : src.kind === 'committed' ? refs?.get(index) : undefined
  if (ref == null || mergedLength(ref) < at + length) return undefined
  let bytes: Uint8Array
  try {
    bytes = await core.cache.get(ref, `inode ${ino}`, options)
  } catch (err) {
    throw await core.wrap(err, ino, 'reading')
  }
  return bytes.length >= at + length ? bytes.subarray(at, at + length) : undefined
}

/** Copies the part of a stripe starting at file offset `start` that falls in [offset, end). */
function copyStripe (out: Uint8Array, offset: number, end: number, start: number, bytes: Uint8Array): void {
  const from = Math.max(offset, start)
  const to = Math.min(end, start + bytes.length)
  if (to > from) out.set(bytes.subarray(from - start, to - start), from - offset)
}

/** The stripes in [first, last] that are neither in the open-file state nor a hole. */
function committedStripes (file: OpenFile, first: number, last: number): Set<number> {
  const out = new Set<number>()
  for (let i = first; i <= last; i++) if (file.sourceOf(i).kind === 'committed') out.add(i)
  return out
}

/** How far from the expected offset a read may start and still count as sequential. */
const SEQUENTIAL_SLACK_BYTES = 1024 * 1024

/** Sequential readers prefetch the next stripes (bounded, in the background, never queued). */
function readAhead (core: VfsCore, h: Handle, ino: number, file: OpenFile | undefined, ss: number, fileSize: number, offset: number, length: number, last: number): void {
  // The kernel's own read-ahead may reorder a little: near the expected offset counts as sequential.
  if (Math.abs(offset - h.nextReadOffset) <= SEQUENTIAL_SLACK_BYTES) {
    h.sequentialReads++
    h.nextReadOffset = Math.max(h.nextReadOffset, offset + length)
  } else {
    h.sequentialReads = 0
    h.readAheadTo = 0
    h.nextReadOffset = offset + length
  }
  if (h.sequentialReads < 2 || core.settings.readAheadBytes <= 0) return
  const window = Math.ceil(core.settings.readAheadBytes / ss)
  const endStripe = Math.min(last + 1 + window, Math.ceil(fileSize / ss))
  const from = Math.max(last + 1, h.readAheadTo)
  if (from >= endStripe || core.cache.readAheadBusy) return
  void (async () => {
    const refs = await core.meta.getStripes(ino, from, endStripe, { signal: core.controller.signal })
    let upTo = endStripe
    for (const ref of refs) {
      if (file != null && file.sourceOf(ref.index).kind !== 'committed') continue
      // All slots busy: stop here; a later read starts the rest.
      if (!core.cache.prefetch(ref, `inode ${ino}`)) { upTo = ref.index; break }
    }
    h.readAheadTo = Math.max(h.readAheadTo, upTo)
  })().catch((err) => { core.log.trace('read-ahead for inode %d failed: %s', ino, (err as Error).message) })
}
