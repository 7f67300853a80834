/**
 * FragmentStore on the local disk: fragments smaller than the pack threshold go to append-only
 * pack segments (pack-store.ts), larger ones to one content-addressed file each under sharded
 * directories (fragment-files.ts). Why both: docs/store.md.
 *
 * Invariants: a put is verified against its CID before anything is written, is idempotent, and
 * returns once the bytes are in the kernel (a killed process loses nothing); `sync` is the
 * power-loss point (group-committed fdatasync of files, segments and directories). A get verifies
 * the bytes and quarantines a corrupt copy rather than return it. Usage is tracked in memory.
 */
import { mkdir, readdir, rm, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, IntegrityError, IoError, NotFoundError } from '../errors.js'
import { combineSignals, raceSignal, throwIfAborted, type AbortOptions } from '../util/abort.js'
import { CID, markHashed, matchesCid, matchesCidAsync } from '../util/cid.js'
import type { ComponentLogger, Logger } from '../util/logger.js'
import { Lifecycle } from '../util/startable.js'
import {
  DEFAULT_CAPACITY_FRACTION, DEFAULT_PACK_THRESHOLD_BYTES, DEFAULT_SEGMENT_BYTES, FRAGMENTS_DIR, IO_CONCURRENCY,
  MAX_UNSYNCED, PACKS_DIR, QUARANTINE_DIR, TMP_DIR
} from './constants.js'
import { listFragmentFiles, scanFragmentFiles } from './file-scan.js'
import { datasyncFile, quarantineBytes, quarantineFile, readIfExists, statIfExists, writeFileAtomic } from './fragment-files.js'
import { GroupSync } from './group-sync.js'
import { isNotFound, toStoreError } from './io-error.js'
import { KeyedLock } from './keyed-lock.js'
import { checkInit, loadLayout } from './layout.js'
import { compactPacks, type CompactOptions, type CompactResult } from './pack-compact.js'
import { fsyncDir, PackStore, type PackLocation } from './pack-store.js'
import { forEachLimit } from './parallel.js'
import { Quota } from './quota.js'
import { fragmentFile, shardOf } from './sharding.js'
import type { FragmentAges, FragmentEntry, FragmentStore, StoreUsage } from './types.js'

/** Settings of the file store (defaults applied once, in the constructor and at start). */
export interface FsStoreInit {
  /** Root directory of the store (the home's `fragments/`); created if missing. Required. */
  path: string
  /**
   * Capacity offered to the swarm, in bytes. Default (or 0): 90% of the free space of the disk at
   * start plus the bytes already stored.
   */
  capacityBytes?: number
  /**
   * Fragments smaller than this many bytes are appended to pack segments; the rest get a file
   * each. 0 puts every fragment in its own file. Fixed when the store is created (store.json);
   * later values are ignored. Default 1 MiB.
   */
  packThresholdBytes?: number
  /** Size at which a pack segment is sealed, in bytes. Default 32 MiB. */
  segmentBytes?: number
}

/** What the file store uses from outside. */
export interface FsStoreComponents {
  /** Default: the process-wide `palm:store` logger. */
  logger?: ComponentLogger
}

type SyncItem = { file: string, dir: string } | { segment: number }

/** The on-disk FragmentStore (create it with `createFsStore`); also GC ages, `compact` and `locate`. */
export class FsFragmentStore extends Lifecycle implements FragmentStore, FragmentAges {
  readonly root: string
  readonly #dirs: { fragments: string, tmp: string, quarantine: string }
  readonly #init: FsStoreInit
  readonly #log: Logger
  readonly #locks = new KeyedLock()
  readonly #puts = new Map<string, Promise<void>>()
  readonly #knownShards = new Set<string>()
  /** Directories whose new entries are not yet fsynced (a new shard directory in fragments/). */
  readonly #dirtyDirs = new Set<string>()
  readonly #syncer: GroupSync<SyncItem>
  readonly #quota: Quota
  readonly #packs: PackStore
  #packThresholdBytes = DEFAULT_PACK_THRESHOLD_BYTES
  #open = false
  /** Aborted by stop(): ends a running compaction between records. */
  readonly #stopping = new AbortController()
  #compaction: Promise<CompactResult> | undefined

  constructor (init: FsStoreInit, log: Logger) {
    super()
    checkInit(init)
    this.root = init.path
    this.#init = init
    this.#log = log
    this.#dirs = { fragments: join(init.path, FRAGMENTS_DIR), tmp: join(init.path, TMP_DIR), quarantine: join(init.path, QUARANTINE_DIR) }
    this.#quota = new Quota(init.path, Number.MAX_SAFE_INTEGER, log)
    this.#packs = new PackStore(join(init.path, PACKS_DIR), init.segmentBytes ?? DEFAULT_SEGMENT_BYTES, log)
    this.#syncer = new GroupSync<SyncItem>(async items => { await this.#flush(items) })
  }

  /** Fragments smaller than this are in packs (from store.json once started). */
  get packThresholdBytes (): number { return this.#packThresholdBytes }

  protected async onStart (): Promise<void> {
    const began = performance.now()
    for (const dir of Object.values(this.#dirs)) await mkdir(dir, { recursive: true })
    this.#packThresholdBytes = (await loadLayout(this.root, this.#init.packThresholdBytes ?? DEFAULT_PACK_THRESHOLD_BYTES)).packThresholdBytes
    const leftovers = await readdir(this.#dirs.tmp)
    await forEachLimit(leftovers, IO_CONCURRENCY, async name => { await rm(join(this.#dirs.tmp, name), { force: true, recursive: true }) })
    if (leftovers.length > 0) this.#log('removed %d temp files left by an interrupted write', leftovers.length)
    await scanFragmentFiles(this.#dirs.fragments, (_cid, size) => { this.#quota.add(size) })
    await this.#packs.open()
    for (const [, loc] of this.#packs.entries()) this.#quota.add(loc.length)
    const free = await this.#quota.refresh()
    const configured = this.#init.capacityBytes ?? 0
    this.#quota.capacityBytes = configured > 0 ? configured : this.#quota.usedBytes + Math.floor(free * DEFAULT_CAPACITY_FRACTION)
    this.#open = true
    const u = this.#quota.usage()
    this.#log('opened fragment store %s: %d fragments, %d bytes of %d, in %d ms', this.root, u.fragmentCount, u.usedBytes, u.capacityBytes, Math.round(performance.now() - began))
  }

  protected async onStop (): Promise<void> {
    this.#open = false
    this.#stopping.abort(new AbortedError(`the fragment store at ${this.root} is stopping`))
    await Promise.allSettled([...this.#puts.values(), this.#compaction])
    try {
      await this.#syncer.sync()
    } catch (err) {
      this.#log.error('final sync of fragment store %s failed: %e', this.root, err)
    }
    await this.#packs.close()
  }

  async put (cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'fragment put')
    this.#assertOpen()
    const key = cid.toString()
    if (!await matchesCidAsync(cid, bytes)) {
      throw new IntegrityError(`fragment ${key} does not match its content (${bytes.byteLength} bytes); refusing to store it`, { details: { cid: key } })
    }
    for (;;) {
      // Concurrent puts of one fragment share the first one's write; after it settles, the idempotent path answers.
      const running = this.#puts.get(key)
      if (running == null) break
      await raceSignal(running.catch(() => {}), options.signal, 'fragment put')
    }
    const p = this.#locks.run(key, async () => { await this.#putLocked(cid, key, bytes, options) })
    this.#puts.set(key, p)
    try {
      await p
    } finally {
      if (this.#puts.get(key) === p) this.#puts.delete(key)
    }
    if (this.#syncer.pendingCount > MAX_UNSYNCED) {
      void this.#syncer.sync().catch(err => { this.#log.error('background sync of fragment store %s failed: %e', this.root, err) })
    }
  }

  async #putLocked (cid: CID, key: string, bytes: Uint8Array, options: AbortOptions): Promise<void> {
    const now = Date.now()
    const size = bytes.byteLength
    if (size < this.#packThresholdBytes) {
      const loc = this.#packs.lookup(key)
      if (loc != null && loc.length === size) {
        this.#packs.touch(key, now)
        this.#syncer.add(key, { segment: loc.segment })
        return
      }
      throwIfAborted(options.signal, 'fragment put')
      this.#quota.reserve(size, key)
      try {
        const stored = await this.#packs.append(cid, key, bytes, now)
        if (loc != null) this.#quota.remove(loc.length)
        this.#quota.commit(size)
        this.#syncer.add(key, { segment: stored.segment })
      } catch (err) {
        this.#quota.release(size)
        throw toStoreError(err, `storing fragment ${key} in ${this.#packs.dir}`, { cid: key })
      }
      return
    }
    const path = fragmentFile(this.#dirs.fragments, key)
    const dir = join(this.#dirs.fragments, shardOf(key))
    try {
      const existing = await statIfExists(path)
      if (existing != null && existing.size === size) {
        // Refresh the age so that GC (which keeps young fragments) cannot take a fragment just put again.
        await utimes(path, now / 1000, now / 1000)
        this.#syncer.add(key, { file: path, dir })
        return
      }
      if (existing != null) {
        const moved = await quarantineFile(path, this.#dirs.quarantine, now)
        this.#quota.remove(existing.size)
        this.#log.error('fragment file %s had %d bytes instead of %d; moved it to %s and storing it again', path, existing.size, size, moved)
      }
      throwIfAborted(options.signal, 'fragment put')
      this.#quota.reserve(size, key)
      try {
        await this.#ensureShard(dir)
        await writeFileAtomic(this.#dirs.tmp, path, key, bytes)
      } catch (err) {
        this.#quota.release(size)
        throw err
      }
      this.#quota.commit(size)
      this.#syncer.add(key, { file: path, dir })
    } catch (err) {
      throw toStoreError(err, `storing fragment ${key} in ${this.#dirs.fragments}`, { cid: key, path })
    }
  }

  async #ensureShard (dir: string): Promise<void> {
    if (this.#knownShards.has(dir)) return
    await mkdir(dir, { recursive: true })
    this.#knownShards.add(dir)
    this.#dirtyDirs.add(this.#dirs.fragments)
  }

  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, 'fragment get')
    this.#assertOpen()
    const key = cid.toString()
    const packed = await this.#packs.read(key, options).catch(err => { throw toStoreError(err, `reading fragment ${key}`, { cid: key }) })
    if (packed != null) {
      // Verified here: later hand-overs of these very bytes (the decode) need not hash them again.
      if (matchesCid(cid, packed.bytes)) { markHashed(packed.bytes, cid); return packed.bytes }
      throw await this.#locks.run(key, async () => await this.#quarantinePackLocked(cid, key, packed.bytes, packed.loc))
    }
    const path = fragmentFile(this.#dirs.fragments, key)
    const bytes = await readIfExists(path).catch(err => { throw toStoreError(err, `reading fragment ${key} from ${path}`, { cid: key, path }) })
    if (bytes == null) throw new NotFoundError(`fragment ${key} is not stored on this device`, { details: { cid: key } })
    // Large files: hashed off the event loop (a sequential reader fetches 4 MiB per stripe).
    if (await matchesCidAsync(cid, bytes)) { markHashed(bytes, cid); return bytes }
    throw await this.#locks.run(key, async () => await this.#quarantineFileLocked(cid, key, path))
  }

  /** Moves a corrupt file aside (if it is still the corrupt one) and returns the IntegrityError to throw. */
  async #quarantineFileLocked (cid: CID, key: string, path: string): Promise<Error> {
    const again = await readIfExists(path)
    if (again == null || matchesCid(cid, again)) {
      // Replaced meanwhile by a good copy (a put) or deleted: report what this reader saw.
      return new IntegrityError(`fragment ${key} read from ${path} was corrupt; it has been replaced since, read it again`, { details: { cid: key, path } })
    }
    const moved = await quarantineFile(path, this.#dirs.quarantine, Date.now())
    this.#quota.remove(again.byteLength)
    this.#syncer.forget(key)
    this.#log.error('fragment %s at %s is corrupt (%d bytes do not match the CID); moved to %s', key, path, again.byteLength, moved)
    return new IntegrityError(
      `fragment ${key} at ${path} is corrupt (its bytes do not match its CID); it was moved to ${moved}. ` +
      'Its stripe can be rebuilt from the other fragments: run `palm fsck` and `palm repair`',
      { details: { cid: key, path, quarantine: moved } })
  }

  async #quarantinePackLocked (cid: CID, key: string, bytes: Uint8Array, loc: PackLocation): Promise<Error> {
    const where = `${this.#packs.pathOf(loc.segment)} at offset ${loc.dataOffset}`
    if (this.#packs.lookup(key) !== loc) {
      return new IntegrityError(`fragment ${key} read from ${where} was corrupt; it has been replaced since, read it again`, { details: { cid: key } })
    }
    const moved = await quarantineBytes(this.#dirs.quarantine, key, bytes, Date.now())
    await this.#packs.remove(cid, key)
    this.#quota.remove(loc.length)
    this.#syncer.forget(key)
    this.#log.error('fragment %s in %s is corrupt; copied to %s and removed from the pack', key, where, moved)
    return new IntegrityError(
      `fragment ${key} in ${where} is corrupt (its bytes do not match its CID); a copy was put in ${moved}. ` +
      'Its stripe can be rebuilt from the other fragments: run `palm fsck` and `palm repair`',
      { details: { cid: key, path: this.#packs.pathOf(loc.segment), offset: loc.dataOffset, quarantine: moved } })
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, 'fragment has')
    this.#assertOpen()
    const key = cid.toString()
    if (this.#packs.lookup(key) != null) return true
    return (await statIfExists(fragmentFile(this.#dirs.fragments, key))) != null
  }

  async delete (cid: CID, options: AbortOptions = {}): Promise<void> {
    await this.deleteIfOlder(cid, Number.POSITIVE_INFINITY, options)
  }

  async deleteIfOlder (cid: CID, cutoffMs: number, options: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, 'fragment delete')
    this.#assertOpen()
    const key = cid.toString()
    return await this.#locks.run(key, async () => {
      try {
        const loc = this.#packs.lookup(key)
        if (loc != null) {
          if (loc.storedAtMs >= cutoffMs) return false
          await this.#packs.remove(cid, key)
          this.#quota.remove(loc.length)
          this.#syncer.forget(key)
          return true
        }
        const path = fragmentFile(this.#dirs.fragments, key)
        const existing = await statIfExists(path)
        if (existing == null || existing.mtimeMs >= cutoffMs) return false
        await unlink(path)
        this.#quota.remove(existing.size)
        this.#syncer.forget(key)
        return true
      } catch (err) {
        if (isNotFound(err)) return false
        throw toStoreError(err, `deleting fragment ${key}`, { cid: key })
      }
    })
  }

  async sync (cids?: CID[], options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'fragment sync')
    this.#assertOpen()
    await this.#syncer.sync(cids?.map(c => c.toString()), options)
  }

  async #flush (items: SyncItem[]): Promise<void> {
    const files: string[] = []
    const dirs = new Set(this.#dirtyDirs)
    this.#dirtyDirs.clear()
    const segments = new Set<number>()
    for (const item of items) {
      if ('file' in item) { files.push(item.file); dirs.add(item.dir) } else segments.add(item.segment)
    }
    try {
      await Promise.all([forEachLimit(files, IO_CONCURRENCY, datasyncFile), this.#packs.sync(segments)])
      await forEachLimit(dirs, IO_CONCURRENCY, async dir => { await fsyncDir(dir) })
    } catch (err) {
      for (const dir of dirs) this.#dirtyDirs.add(dir)
      throw toStoreError(err, `syncing ${items.length} fragments of ${this.root} to stable storage`)
    }
  }

  async * list (options: AbortOptions = {}): AsyncIterable<CID> {
    for await (const entry of this.entries(options)) yield entry.cid
  }

  async * entries (options: AbortOptions = {}): AsyncIterable<FragmentEntry> {
    throwIfAborted(options.signal, 'fragment listing')
    this.#assertOpen()
    let n = 0
    for (const [key, loc] of this.#packs.entries()) {
      if ((++n & 255) === 0) throwIfAborted(options.signal, 'fragment listing')
      yield { cid: CID.parse(key), sizeBytes: loc.length, storedAtMs: loc.storedAtMs }
    }
    for await (const f of listFragmentFiles(this.#dirs.fragments, options)) {
      const s = await statIfExists(f.path)
      if (s != null) yield { cid: f.cid, sizeBytes: s.size, storedAtMs: s.mtimeMs }
    }
  }

  usage (): StoreUsage {
    return this.#quota.usage()
  }

  /**
   * Where a fragment's bytes are on disk, for fsck reports and tests: its own file (offset 0) or a
   * pack segment at `offset`. Undefined if it is not stored.
   */
  async locate (cid: CID, options: AbortOptions = {}): Promise<{ path: string, offset: number, length: number, packed: boolean } | undefined> {
    throwIfAborted(options.signal, 'fragment locate')
    this.#assertOpen()
    const key = cid.toString()
    const loc = this.#packs.lookup(key)
    if (loc != null) return { path: this.#packs.pathOf(loc.segment), offset: loc.dataOffset, length: loc.length, packed: true }
    const path = fragmentFile(this.#dirs.fragments, key)
    const s = await statIfExists(path)
    return s == null ? undefined : { path, offset: 0, length: s.size, packed: false }
  }

  /** Rewrites pack segments that are mostly dead (after GC deletes); see pack-compact.ts. */
  async compact (options: CompactOptions = {}): Promise<CompactResult> {
    this.#assertOpen()
    // One compaction at a time; a second caller waits for the running one, then runs its own pass.
    while (this.#compaction != null) await raceSignal(this.#compaction.catch(() => {}), options.signal, 'pack compaction')
    const { signal, clear } = combineSignals([options.signal, this.#stopping.signal])
    const running = compactPacks(this.#packs, {
      lock: async (key, fn) => { await this.#locks.run(key, fn) },
      onCorrupt: async (cid, key, bytes, loc) => { await this.#quarantinePackLocked(cid, key, bytes, loc) }
    }, { ...options, signal })
    this.#compaction = running
    try {
      const result = await running
      if (result.segments > 0) this.#log('compacted %d pack segments, %d bytes given back', result.segments, result.reclaimedBytes)
      return result
    } finally {
      clear()
      this.#compaction = undefined
    }
  }

  #assertOpen (): void {
    if (!this.#open) throw new IoError(`the fragment store at ${this.root} is not open (not started, or stopped)`, { details: { path: this.root } })
  }
}
