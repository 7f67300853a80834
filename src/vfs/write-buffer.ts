/**
 * Open-file state of one inode, shared by every handle on it (two fds and hard links see each
 * other's writes at once). Writes land in dirty stripe buffers (copied: the binding reuses its
 * buffer) charged to the global DirtyBudget; a small write into a stored stripe keeps only its
 * bytes, as patches over it (sparse: docs/vfs.md, "Sparse writes"), and reads nothing. A stripe
 * filled by a write that reaches its end is stored (encode + place) in the background, bounded by
 * the store limiter, while writing goes on.
 * A stripe being stored is never modified: a write to it copies the buffer first. A store that
 * finishes with its stripe unchanged turns it into a *pending* ref (stored, not yet in the
 * manifest) and hands the bytes to the read cache. `commit` stores what is left, waits for every
 * store (the durability rule) and records size, mtime and changed stripes in one meta.setContent.
 * A background failure stays here and is thrown by the next write or commit; the data stays dirty
 * and the next commit retries it.
 */
import type { Attr, MetaStore, SliceAppend, SliceRef, StripeRef } from '../meta/types.js'
import type { PlacedStripe, StripeIO, StripePolicy } from '../place/types.js'
import { AbortedError, TimeoutError } from '../errors.js'
import { raceSignal, type AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import { nowNs } from './clock.js'
import type { Charge, DirtyBudget } from './dirty-budget.js'
import { mergedLength } from '../meta/index.js'
import { addRange, capacityFor, layOver, layPatch, stripeBuffer, withAdded, type DirtyStripe, type SliceBase, type StoreJob, type StripeSource } from './dirty-stripe.js'
import { MAX_DIRTY_RANGES, MIN_BUFFER_BYTES, SLICE_MAX_BYTES, SLICES_MAX_PER_STRIPE } from './constants.js'
import { mergedKey } from './read-cache.js'
import { fileError } from './file-error.js'
import type { Limiter } from './limiter.js'
import type { ReadCache } from './read-cache.js'
import { stampOf } from './stripe-refs.js'


const EMPTY = new Uint8Array(0)

/** Shared machinery every OpenFile uses. */
/** Options of a commit. */
export interface CommitOptions extends AbortOptions {
  /** An fsync's commit: the stores it starts are flushed by their devices on the way (StripeIOOptions.sync). */
  sync?: boolean
}

export interface OpenFileDeps {
  meta: Pick<MetaStore, 'getattr' | 'getStripes' | 'setContent' | 'pathOf'>
  stripes: Pick<StripeIO, 'write'>
  cache: ReadCache
  budget: DirtyBudget
  storeLimiter: Limiter
  log: Logger
  /** Aborted when the VFS stops: background stores end. */
  signal: AbortSignal
  /** Starts storing dirty stripes of any open file to free `bytes` (see DirtyBudget). */
  spill: (bytes: number) => boolean
  /** Counts a finished store (stats). */
  onStored: () => void
  /** A stored stripe was taken into the open-file state (fsync must flush it unless `synced`: unsynced.ts). */
  onPending: (ino: number, placed: PlacedStripe, synced: boolean) => void
  /** A commit left stripe `ref` with slices: compacts it in the background if it has many (compaction.ts). */
  compact: (ino: number, ref: StripeRef, policy: StripePolicy) => void
}

export interface OpenFileInit {
  ino: number
  stripeSize: number
  policy: StripePolicy
  /** Size in meta now. */
  size: number
}

export class OpenFile {
  readonly ino: number
  readonly stripeSize: number
  readonly policy: StripePolicy
  /** Logical size including dirty data. */
  size: number
  /** Size as last committed to meta. */
  committedSize: number
  /** mtime of uncommitted changes. */
  mtimeNs: bigint | undefined
  readonly #deps: OpenFileDeps
  readonly #dirty = new Map<number, DirtyStripe>()
  readonly #pending = new Map<number, PlacedStripe>()
  /** Slices stored over committed stripes, not yet in the manifest (a stripe is never in #pending too). */
  readonly #pendingSlices = new Map<number, SliceBase>()
  readonly #holes = new Set<number>()
  #error: Error | undefined
  #path: string | undefined
  /** Commits this file's create (answered early) and waits for it; undefined once it is known committed. */
  #created: (() => Promise<void>) | undefined
  /** Why that commit failed: the file does not exist in the journal, so no commit can succeed. */
  #createError: unknown
  /**
   * The stripes this state's last commit recorded, valid while the inode's attr is the one that
   * commit left (`stampOf`): a write merging into one of them right after an fsync needs no manifest
   * query (which waits for the journal's SQLite commit of that setContent).
   */
  #lastCommit: { stamp: string, refs: Map<number, PlacedStripe> } | undefined
  /**
   * When this state's oldest store not yet recorded by a commit started (undefined: none). Its
   * fragments are in the store but in no journal op: GC must keep them (VfsCore.uncommittedSinceMs).
   */
  #uncommittedSince: number | undefined
  /** Changes of this file by other devices seen so far (a slice base read before one may be stale). */
  #remoteChanges = 0

  constructor (init: OpenFileInit, deps: OpenFileDeps) {
    this.ino = init.ino
    this.stripeSize = init.stripeSize
    this.policy = init.policy
    this.size = init.size
    this.committedSize = init.size
    this.#deps = deps
  }

  /** True when there is anything to commit. */
  get changed (): boolean {
    return this.#dirty.size > 0 || this.#pending.size > 0 || this.#pendingSlices.size > 0 || this.#holes.size > 0 ||
      this.size !== this.committedSize || this.mtimeNs !== undefined
  }

  get dirtyCount (): number { return this.#dirty.size }

  /** When the oldest store this state has not committed yet started, ms since the epoch (undefined: none). */
  get uncommittedSinceMs (): number | undefined { return this.#uncommittedSince }

  /**
   * True when this state holds nothing of its own: no dirty or stored-but-uncommitted data, no
   * holes, size or mtime to commit, no create still committing and no deferred error. Such a state
   * may be dropped and rebuilt from meta (after another device changed the file).
   */
  get clean (): boolean {
    return !this.changed && this.#dirty.size === 0 && this.#created == null && this.#error == null && this.#createError === undefined
  }

  /** The file's path for messages (resolved once; "inode N" if it has no name). */
  async path (options: AbortOptions = {}): Promise<string> {
    if (this.#path == null) {
      const p = await this.#deps.meta.pathOf(this.ino, options).catch(() => undefined)
      this.#path = p ?? `(deleted file, inode ${this.ino})`
    }
    return this.#path
  }

  /**
   * Makes every commit of this file wait for `committed`, the journal commit of its create
   * (answered before it; see meta.createEarly). A failed create commit fails every later commit.
   */
  awaitCreate (committed: () => Promise<void>): void {
    this.#created = committed
  }

  /** Commits the create now (if it was answered early) and waits for it. */
  async #createCommitted (options: AbortOptions): Promise<void> {
    const created = this.#created
    if (created == null) return
    try {
      await raceSignal(created(), options.signal, `creating inode ${this.ino}`)
    } catch (err) {
      if (!(err instanceof AbortedError || err instanceof TimeoutError)) this.#createError = err
      throw fileError(err, await this.path(), 'creating')
    }
    if (this.#created === created) this.#created = undefined
  }

  /** Throws (once) the error a background store left. */
  throwDeferred (): void {
    const err = this.#error
    if (err == null) return
    this.#error = undefined
    throw err
  }

  /** Where stripe `index` comes from for a reader. Bytes returned must be copied before the next await. */
  sourceOf (index: number): StripeSource {
    const e = this.#dirty.get(index)
    if (e?.patches != null) return { kind: 'patched', ref: withAdded(e.over as SliceBase), patches: e.patches, length: e.length }
    if (e != null) return { kind: 'bytes', bytes: e.buf.subarray(0, e.length) }
    const ref = this.#pending.get(index)
    if (ref != null) return { kind: 'ref', ref }
    const sliced = this.#pendingSlices.get(index)
    if (sliced != null) return { kind: 'ref', ref: withAdded(sliced) }
    if (this.#holes.has(index) || index * this.stripeSize >= this.committedSize) return { kind: 'hole' }
    return { kind: 'committed' }
  }

  /** Writes `data` at `offset` (call with the inode lock held). Returns bytes written. */
  async writeLocked (offset: number, data: Uint8Array, options: AbortOptions = {}): Promise<number> {
    this.throwDeferred()
    const ss = this.stripeSize
    let pos = offset
    let src = 0
    while (src < data.length) {
      const index = Math.floor(pos / ss)
      const inStripe = pos - index * ss
      const n = Math.min(ss - inStripe, data.length - src)
      await this.#writeInStripe(index, inStripe, data.subarray(src, src + n), options)
      pos += n
      src += n
      // Per stripe: a write cut short (aborted) never leaves stripe bytes past the size.
      if (pos > this.size) this.size = pos
      this.mtimeNs = nowNs()
    }
    return data.length
  }

  /**
   * Sets the logical size and commits (call with the inode lock held): drops stripes past it, cuts
   * the last one, and extending leaves a hole.
   */
  async truncateLocked (newSize: number, options: AbortOptions = {}): Promise<void> {
    await this.#settle(options)
    const ss = this.stripeSize
    const cutIndex = Math.floor(newSize / ss)
    const cutLength = newSize - cutIndex * ss
    const firstGone = cutLength === 0 ? cutIndex : cutIndex + 1
    for (const [i, e] of this.#dirty) if (i >= firstGone) this.#drop(e)
    for (const i of [...this.#pending.keys()]) if (i >= firstGone) this.#pending.delete(i)
    for (const i of [...this.#pendingSlices.keys()]) if (i >= firstGone) this.#pendingSlices.delete(i)
    for (const i of [...this.#holes]) if (i >= firstGone) this.#holes.delete(i)
    if (cutLength > 0 && newSize < this.size) {
      let e = this.#dirty.get(cutIndex)
      while (e?.patches != null) {
        await this.#materialize(e, options)
        e = this.#dirty.get(cutIndex)
      }
      if (e == null) {
        const { bytes: base, over } = await this.#load(cutIndex, options)
        if (base != null && base.length > cutLength) e = await this.#newEntry(cutIndex, base, cutLength, options, over)
      }
      if (e != null && e.length > cutLength) {
        e.buf.fill(0, cutLength, e.length)
        e.length = cutLength
        e.gen++
        e.ready = false
        // A cut stripe is stored whole (its slices dropped): a later extension must read zeros.
        e.ranges = undefined
      }
    }
    this.size = newSize
    this.mtimeNs = nowNs()
    // Commit now: meta drops the stripes past the new size, so a later extension reads zeros there.
    await this.commitLocked(options)
  }

  /** Makes every stripe fully inside [from, to) a hole and zeroes the partial ends (punch hole). */
  async punchLocked (from: number, to: number, options: AbortOptions = {}): Promise<void> {
    const end = Math.min(to, this.size)
    if (end <= from) return
    await this.#settle(options)
    const ss = this.stripeSize
    const firstWhole = Math.ceil(from / ss)
    const endWhole = Math.floor(end / ss)
    for (let i = firstWhole; i < endWhole; i++) {
      const e = this.#dirty.get(i)
      if (e != null) this.#drop(e)
      this.#pending.delete(i)
      this.#pendingSlices.delete(i)
      if (i * ss < this.committedSize) this.#holes.add(i)
    }
    const zeroRange = async (a: number, b: number): Promise<void> => {
      if (b > a) await this.writeLocked(a, new Uint8Array(b - a), options)
    }
    if (firstWhole > endWhole) {
      await zeroRange(from, end)
    } else {
      await zeroRange(from, Math.min(end, firstWhole * ss))
      await zeroRange(Math.max(from, endWhole * ss), end)
    }
  }

  /**
   * Stores every dirty stripe, waits for all stores, then records the new content in meta with one
   * setContent (call with the inode lock held). Returns the committed attr, or undefined when
   * nothing had changed.
   */
  async commitLocked (options: CommitOptions = {}): Promise<Attr | undefined> {
    this.throwDeferred()
    do {
      while (this.#dirty.size > 0) {
        const jobs: Array<Promise<void>> = []
        for (const e of [...this.#dirty.values()]) {
          if (e.storing == null && (e.length === 0 || (e.ranges?.length === 0 && e.over != null))) {
            // Nothing written after all: what it was loaded over is still the state.
            if (e.over != null && e.over.added.length > 0) this.#pendingSlices.set(e.index, e.over)
            this.#drop(e)
            continue
          }
          if (e.storing == null) this.#store(e, true, options.sync === true)
          if (e.storing != null) jobs.push(e.storing.promise)
        }
        await this.#wait(jobs, options)
        this.throwDeferred()
      }
    } while (await this.#wholeWhereGone(options))
    if (this.#createError !== undefined) throw fileError(this.#createError, await this.path(), 'creating')
    if (!this.changed) {
      // Durable means the create is committed too.
      await this.#createCommitted(options)
      // Every store ended and none left a result to record (each was superseded): nothing to keep.
      this.#uncommittedSince = undefined
      return undefined
    }
    const stripes: StripeRef[] = [...this.#pending].sort((a, b) => a[0] - b[0]).map(([index, p]) => ({ index, ...p }))
    const holes = [...this.#holes]
    const sliced = [...this.#pendingSlices]
    const addSlices: SliceAppend[] = sliced.map(([index, b]) => ({ index, over: b.ref.id, seen: b.ref.slices?.length ?? 0, slices: b.added }))
    const mtimeNs = this.mtimeNs ?? nowNs()
    let attr: Attr
    try {
      attr = await this.#deps.meta.setContent(this.ino, {
        size: this.size,
        stripeSize: this.stripeSize,
        stripes,
        holes,
        ...(addSlices.length > 0 ? { addSlices } : {}),
        mtimeNs
      }, options)
    } catch (err) {
      // A create that failed to commit explains the failure better (the inode is gone).
      if (this.#created != null) await this.#createCommitted(options)
      throw fileError(err, await this.path(), 'recording the new content of')
    }
    // Commits land in order: the create (answered early) is committed too.
    this.#created = undefined
    const refs = new Map<number, PlacedStripe>(stripes.map(r => [r.index, r]))
    // A sliced stripe is the one its slices were laid over plus them, unless another device changed
    // the file since that stripe was read (only the manifest knows the result then: left out).
    for (const [index, b] of sliced) {
      if (b.seenAt !== this.#remoteChanges) continue
      const ref = withAdded(b)
      refs.set(index, ref)
      this.#deps.compact(this.ino, ref, this.policy)
    }
    this.#lastCommit = { stamp: stampOf(attr), refs }
    for (const [index] of sliced) this.#pendingSlices.delete(index)
    this.#pending.clear()
    this.#holes.clear()
    this.committedSize = this.size
    this.mtimeNs = undefined
    // No store runs during a commit (it holds the inode lock and waited for them all).
    this.#uncommittedSince = undefined
    return attr
  }

  /**
   * Slices need their stripe in the journal: one that another device truncated or punched away
   * since this state read it would take none (docs/journal.md, "Slices"), and bytes this file was
   * told were written would read as zeros. Such a stripe becomes dirty again, as this state shows
   * it, and is stored whole (the local writer's bytes win, as before slices). True when any did.
   */
  async #wholeWhereGone (options: AbortOptions): Promise<boolean> {
    const stale = [...this.#pendingSlices].filter(([, b]) => b.seenAt !== this.#remoteChanges)
    let any = false
    for (const [index, b] of stale) {
      const [now] = await this.#deps.meta.getStripes(this.ino, index, index + 1, options)
      if (now != null || this.#pendingSlices.get(index) !== b) continue
      let bytes: Uint8Array
      try {
        bytes = await this.#deps.cache.get(withAdded(b), this.#path ?? `inode ${this.ino}`, options)
      } catch (err) {
        throw fileError(err, await this.path(), 'reading (to store a stripe another device removed)')
      }
      if (this.#pendingSlices.get(index) !== b) continue
      await this.#newEntry(index, bytes, bytes.length, options)
      any = true
    }
    return any
  }

  /** Dirty stripes that a spill may store now. */
  spillCandidates (): DirtyStripe[] {
    const out: DirtyStripe[] = []
    for (const e of this.#dirty.values()) if (e.storing == null && !e.failed) out.push(e)
    return out
  }

  /** Starts storing `e` in the background (spill or pipeline). */
  storeEarly (e: DirtyStripe): void {
    // A sparse stripe goes out as the slices it is (storing it whole would first fetch it).
    if (this.#dirty.get(e.index) === e) this.#store(e, e.patches != null)
  }

  /** Another device changed the file: the refs of the last commit may be stale. */
  forgetLastCommit (): void {
    this.#lastCommit = undefined
    this.#remoteChanges++
  }

  /**
   * The refs of committed stripes `indexes` as this state's last commit left them, if that commit
   * recorded all of them and nothing changed the inode since; else undefined (ask meta).
   */
  async lastCommitted (indexes: Iterable<number>, options: AbortOptions = {}): Promise<Map<number, PlacedStripe> | undefined> {
    const last = this.#lastCommit
    if (last == null) return undefined
    const out = new Map<number, PlacedStripe>()
    for (const i of indexes) {
      const ref = last.refs.get(i)
      if (ref == null) return undefined
      out.set(i, ref)
    }
    const attr = await this.#deps.meta.getattr(this.ino, options)
    return this.#lastCommit === last && stampOf(attr) === last.stamp ? out : undefined
  }

  /** Drops every dirty stripe without storing it (last close of an unlinked file; stop after failure). */
  discard (): void {
    for (const e of this.#dirty.values()) this.#drop(e)
    this.#pending.clear()
    this.#pendingSlices.clear()
    this.#holes.clear()
    this.mtimeNs = undefined
    this.size = this.committedSize
    // Stores still running were dropped with their stripes: what they put is garbage.
    this.#uncommittedSince = undefined
  }

  async #writeInStripe (index: number, off: number, bytes: Uint8Array, options: AbortOptions): Promise<void> {
    const end = off + bytes.length
    for (;;) {
      let e = this.#dirty.get(index)
      if (e == null) {
        // A write that covers the whole stripe needs no old bytes; a small one into a stored stripe
        // keeps only its own (sparse); anything else merges with them.
        const at = off === 0 && end === this.stripeSize ? {} : await this.#locate(index, options)
        if (at.over != null && off === 0 && end >= mergedLength(withAdded(at.over))) {
          // It covers all the stripe holds (a small file rewritten): a new stripe, not a slice.
          e = await this.#newEntry(index, undefined, end, options)
        } else if (at.over != null && this.#sliceable(at.over, 1, bytes.length)) {
          e = await this.#newSparse(index, at.over, bytes.length, options)
        } else {
          const base = at.ref != null ? await this.#fetch(at.ref, options) : at.bytes
          e = await this.#newEntry(index, base, Math.max(base?.length ?? 0, end), options, at.over)
        }
      }
      if (e.patches != null) {
        if (await this.#writeSparse(e, off, bytes, options)) return
        continue
      }
      const cowNeeded = e.storing != null && e.storing.charge === e.charge
      if (cowNeeded || e.buf.length < end) {
        const charge = await this.#reserve(capacityFor(this.stripeSize, Math.max(e.length, end)), options)
        if (this.#dirty.get(index) !== e) { charge.release(); continue }
        const buf = stripeBuffer(charge.bytes)
        buf.set(e.buf.subarray(0, e.length))
        if (!(e.storing != null && e.storing.charge === e.charge)) e.charge.release()
        e.buf = buf
        e.charge = charge
      }
      e.buf.set(bytes, off)
      this.#wrote(e, off, end)
      return
    }
  }

  /** Records a write of [off, end) into `e`'s buffer. */
  #wrote (e: DirtyStripe, off: number, end: number): void {
    if (end > e.length) e.length = end
    addRange(e, off, end)
    e.gen++
    e.failed = false
    // Full up to its end: stored now (a sequential writer), unless it is a few slices' worth of bytes.
    e.ready = e.length === this.stripeSize && end === this.stripeSize && !this.#fewSlices(e)
    if (e.ready) this.#store(e)
  }

  async #newEntry (index: number, base: Uint8Array | undefined, need: number, options: AbortOptions, over?: SliceBase): Promise<DirtyStripe> {
    const charge = await this.#reserve(capacityFor(this.stripeSize, Math.max(need, base?.length ?? 0)), options)
    const buf = stripeBuffer(charge.bytes)
    if (base != null) buf.set(base)
    const e: DirtyStripe = { index, buf, charge, length: base?.length ?? 0, gen: 0, ready: false, failed: false, dropped: false, over, ranges: over == null ? undefined : [], rangeBytes: 0 }
    return this.#track(e)
  }

  /** A sparse dirty stripe over `over` (docs/vfs.md, "Sparse writes"): nothing written yet, nothing read. */
  async #newSparse (index: number, over: SliceBase, first: number, options: AbortOptions): Promise<DirtyStripe> {
    // Room for its first write: the entry never waits for budget empty (a spill would store it whole).
    const charge = await this.#reserve(capacityFor(this.stripeSize, Math.max(first, MIN_BUFFER_BYTES)), options)
    return this.#track({ index, buf: EMPTY, charge, length: mergedLength(withAdded(over)), gen: 0, ready: false, failed: false, dropped: false, over, ranges: [], rangeBytes: 0, patches: [] })
  }

  #track (e: DirtyStripe): DirtyStripe {
    this.#dirty.set(e.index, e)
    this.#pending.delete(e.index)
    this.#pendingSlices.delete(e.index)
    this.#holes.delete(e.index)
    return e
  }

  /**
   * Lays a write over sparse stripe `e`. False when the caller must look again: `e` left the dirty
   * set, or the write made it too big for slices and it now holds the whole stripe (materialized).
   */
  async #writeSparse (e: DirtyStripe, off: number, bytes: Uint8Array, options: AbortOptions): Promise<boolean> {
    const before = e.patches ?? []
    const next = layPatch(before, off, bytes)
    let need = 0
    for (const p of next) need += p.bytes.length
    if (!this.#sliceable(e.over as SliceBase, next.length, need)) {
      // Made whole; a write over all of it needs none of the old bytes and lands at once.
      return await this.#materialize(e, options, { off, bytes })
    }
    if (e.charge.bytes < need) {
      const charge = await this.#reserve(capacityFor(this.stripeSize, need), options)
      if (this.#dirty.get(e.index) !== e || e.patches !== before) { charge.release(); return false }
      // The store in flight owns its charge (and the patches it holds) until it ends.
      if (!(e.storing != null && e.storing.charge === e.charge)) e.charge.release()
      e.charge = charge
    }
    e.patches = next
    // Its ranges merge as the patches do: one range per patch.
    this.#wrote(e, off, off + bytes.length)
    return true
  }

  /**
   * Turns sparse stripe `e` into a whole one: fetches what it lies over and lays its patches on a
   * copy. A `write` from offset 0 over all of it needs none of that: the buffer is the write's bytes,
   * laid in the same step (no reader ever sees a buffer without them). True when `write` landed.
   */
  async #materialize (e: DirtyStripe, options: AbortOptions, write?: { off: number, bytes: Uint8Array }): Promise<boolean> {
    const patches = e.patches
    if (patches == null) return false
    const end = write == null ? 0 : write.off + write.bytes.length
    const covers = write != null && write.off === 0 && end >= e.length
    const base = covers ? EMPTY : await this.#fetch(withAdded(e.over as SliceBase), options)
    const charge = await this.#reserve(capacityFor(this.stripeSize, Math.max(e.length, end)), options)
    if (this.#dirty.get(e.index) !== e || e.patches !== patches) { charge.release(); return false }
    const buf = stripeBuffer(charge.bytes)
    if (covers) buf.set(write.bytes)
    else layOver(buf, base, e.length, patches)
    if (!(e.storing != null && e.storing.charge === e.charge)) e.charge.release()
    e.buf = buf
    e.charge = charge
    e.patches = undefined
    if (covers) this.#wrote(e, 0, end)
    return covers
  }

  /**
   * Where a stripe that is not dirty comes from: its bytes in hand, or the stored stripe `ref` to
   * fetch (none: a hole or past the end), and, for a stored and committed stripe, what slices may be
   * laid over (`over`). Reads nothing but the journal.
   */
  async #locate (index: number, options: AbortOptions): Promise<{ bytes?: Uint8Array, ref?: PlacedStripe, over?: SliceBase }> {
    const src = this.sourceOf(index)
    if (src.kind === 'bytes') return { bytes: src.bytes }
    if (src.kind === 'ref') return { ref: src.ref, over: this.#pendingSlices.get(index) }
    if (src.kind !== 'committed') return {}
    const committed = (await this.lastCommitted([index], options))?.get(index) ?? (await this.#deps.meta.getStripes(this.ino, index, index + 1, options))[0]
    if (committed == null) return {}
    return { ref: committed, over: { ref: { index, ...committed }, added: [], seenAt: this.#remoteChanges } }
  }

  /** The current bytes of a stripe that is not dirty, and what slices may be laid over (#locate). */
  async #load (index: number, options: AbortOptions): Promise<{ bytes?: Uint8Array, over?: SliceBase }> {
    const at = await this.#locate(index, options)
    return { bytes: at.ref != null ? await this.#fetch(at.ref, options) : at.bytes, over: at.over }
  }

  /** The decoded bytes of stored stripe `ref` (through the read cache), to merge a partial write with. */
  async #fetch (ref: PlacedStripe, options: AbortOptions): Promise<Uint8Array> {
    try {
      return await this.#deps.cache.get(ref, this.#path ?? `inode ${this.ino}`, options)
    } catch (err) {
      throw fileError(err, await this.path(), 'reading (to merge a partial write)')
    }
  }

  /** True when `e`'s changes fit in slices over the stripe it was loaded from (docs/vfs.md, "Small overwrites"). */
  #fewSlices (e: DirtyStripe): boolean {
    if (e.over == null || e.ranges == null || e.ranges.length === 0) return false
    return this.#sliceable(e.over, e.ranges.length, e.rangeBytes)
  }

  /** True when `ranges` dirty ranges of `bytes` bytes in all may go as slices over `over`. */
  #sliceable (over: SliceBase, ranges: number, bytes: number): boolean {
    return ranges <= MAX_DIRTY_RANGES && bytes <= SLICE_MAX_BYTES &&
      (over.ref.slices?.length ?? 0) + over.added.length + ranges <= SLICES_MAX_PER_STRIPE
  }

  async #reserve (bytes: number, options: AbortOptions): Promise<Charge> {
    return await this.#deps.budget.reserve(bytes, {
      signal: options.signal,
      spill: this.#deps.spill,
      check: () => { const err = this.#error; this.#error = undefined; return err }
    })
  }

  #drop (e: DirtyStripe): void {
    e.dropped = true
    this.#dirty.delete(e.index)
    if (!(e.storing != null && e.storing.charge === e.charge)) e.charge.release()
  }

  /** Waits until no store of this file is running (truncate and punch then change buffers freely). */
  async #settle (options: AbortOptions): Promise<void> {
    for (;;) {
      const jobs = [...this.#dirty.values()].flatMap(e => e.storing != null ? [e.storing.promise] : [])
      if (jobs.length === 0) return
      await this.#wait(jobs, options)
    }
  }

  /** Waits for store jobs, or until the caller's signal fires (the stores go on). */
  async #wait (jobs: Array<Promise<void>>, options: AbortOptions): Promise<void> {
    try {
      await raceSignal(Promise.all(jobs), options.signal, `writing inode ${this.ino}`)
    } catch (err) {
      throw fileError(err, await this.path(), 'writing')
    }
  }

  /**
   * Starts storing `e`: as slices when `slices` (a commit) and its changes are small, else whole;
   * with `sync` (an fsync's commit) its devices flush the fragments as they store them.
   */
  #store (e: DirtyStripe, slices = false, sync = false): void {
    if (e.storing != null || e.length === 0 || e.patches?.length === 0) return
    if (slices && this.#fewSlices(e)) { this.#storeSlices(e, sync); return }
    const snapshot = this.#wholeBytes(e)
    this.#runStore(e, async (file) => {
      const data = await snapshot(file)
      return { data, placed: await this.#deps.stripes.write(data, this.policy, { file, signal: this.#deps.signal, sync }) }
    }, ({ data, placed }) => {
      this.#pending.set(e.index, placed)
      this.#deps.onPending(this.ino, placed, sync)
      this.#deps.cache.put(placed.id, data)
    })
  }

  /**
   * The bytes a whole store of `e` writes, as they are now: its buffer, or for a sparse stripe what
   * it lies over with its patches laid on (fetched when the store runs).
   */
  #wholeBytes (e: DirtyStripe): (file: string) => Promise<Uint8Array> {
    const patches = e.patches
    if (patches == null) {
      const data = e.buf.subarray(0, e.length)
      return async () => data
    }
    const ref = withAdded(e.over as SliceBase)
    const length = e.length
    return async (file) => {
      const base = await this.#deps.cache.get(ref, file, { signal: this.#deps.signal })
      const out = stripeBuffer(length)
      layOver(out, base, length, patches)
      return out
    }
  }

  /** Stores each dirty range of `e` as a slice over the stripe it was loaded from (its own encode with the file's k/n). */
  #storeSlices (e: DirtyStripe, sync: boolean): void {
    const over = e.over as SliceBase
    const parts = e.patches != null
      ? e.patches.map(p => ({ off: p.off, data: p.bytes }))
      : (e.ranges ?? []).map(([a, b]) => ({ off: a, data: e.buf.subarray(a, b) }))
    const store = async (file: string): Promise<SliceRef[]> => await Promise.all(parts.map(async (p): Promise<SliceRef> => {
      const placed = await this.#deps.stripes.write(p.data, this.policy, { file, signal: this.#deps.signal, sync })
      return { off: p.off, length: placed.length, id: placed.id, k: placed.k, n: placed.n, codecId: placed.codecId, fragments: placed.fragments, holders: placed.holders }
    }))
    this.#runStore(e, store, (placed) => {
      const next: SliceBase = { ref: over.ref, added: [...over.added, ...placed], seenAt: over.seenAt }
      this.#pendingSlices.set(e.index, next)
      placed.forEach((s, i) => {
        this.#deps.onPending(this.ino, s, sync)
        this.#deps.cache.put(s.id, parts[i].data)
      })
      // A reader (or the next write) of the stripe finds it merged already; the previous merge is stale.
      const before = withAdded(over)
      if (before.slices != null && before.slices.length > 0) this.#deps.cache.drop([mergedKey(before)])
      // A sparse stripe has no merged bytes: a reader lays the cached base and slices (ReadCache).
      if (e.patches == null) this.#deps.cache.put(mergedKey(withAdded(next)), e.buf.subarray(0, e.length))
    })
  }

  /**
   * Runs one background store of `e`'s current snapshot (bounded by the store limiter). A store
   * that finishes with the stripe unchanged hands its result to `keep` (the stripe leaves the dirty
   * set); a stale one is dropped (stored again if the stripe is ready); a failure stays deferred.
   */
  #runStore<T> (e: DirtyStripe, store: (file: string) => Promise<T>, keep: (result: T) => void): void {
    const job: StoreJob = { gen: e.gen, charge: e.charge, promise: Promise.resolve() }
    e.storing = job
    this.#uncommittedSince ??= Date.now()
    e.failed = false
    job.promise = this.#deps.storeLimiter.run(async () => {
      // Changed or dropped while queued: this snapshot is stale, skip the work.
      if (e.dropped || e.gen !== job.gen) return undefined
      // The path costs a journal query: lower layers get a label, failures get the path (below).
      return await store(this.#path ?? `inode ${this.ino}`)
    }).then(
      (result) => {
        if (e.storing === job) e.storing = undefined
        if (result != null) this.#deps.onStored()
        const current = !e.dropped && this.#dirty.get(e.index) === e
        if (result != null && current && e.gen === job.gen) {
          this.#dirty.delete(e.index)
          keep(result)
          e.charge.release()
        } else if (current && e.ready) {
          this.#store(e)
        }
        if (e.dropped || e.charge !== job.charge || !current) job.charge.release()
        this.#deps.budget.poke()
      },
      async (err) => { this.#failed(e, job, fileError(err, await this.path(), 'storing')) }
    )
  }

  #failed (e: DirtyStripe, job: StoreJob, err: Error): void {
    if (e.storing === job) e.storing = undefined
    const current = !e.dropped && this.#dirty.get(e.index) === e
    if (e.dropped || e.charge !== job.charge || !current) job.charge.release()
    if (current) {
      e.failed = true
      this.#error ??= err
      this.#deps.log.error('storing stripe %d of %s failed: %s', e.index, this.#path ?? `inode ${this.ino}`, err.message)
    }
    this.#deps.budget.poke()
  }
}
