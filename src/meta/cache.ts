/**
 * The committed view in memory: a bounded LRU of inodes, directory entries (negative ones too),
 * node ids and small xattrs, exactly as the database holds them after the last commit. Readers
 * consult it first; a miss reads the database and fills the entry, unless a commit touched that key
 * while the read was in flight (the read could be stale). Uncommitted changes never enter it.
 */
import { LRUCache } from 'lru-cache'
import { COMMIT_RING_SIZE, XATTR_CACHE_MAX_VALUE_BYTES } from './constants.js'
import type { DentryRec, InodeRec, RemovedDirRec } from './records.js'
import type { StripeRef } from './types.js'

/** A cached fact: "absent" is a fact too (negative lookups are common: rsync, git, editors). */
export const ABSENT: unique symbol = Symbol('absent')
export type Cached = InodeRec | DentryRec | RemovedDirRec | Uint8Array | number | StripeRef | typeof ABSENT
/** A range read for one op (never in the cache): `S` stripes from an index, `X` all xattrs of an inode. */
export type Loaded = Cached | RangeRows
/** Rows of a range read and the cache generation they were read at (stale once a commit landed). */
export interface RangeRows { gen: number, rows: StripeRef[] | Array<[string, Uint8Array]> | DentryRec[] }

export class CommittedCache {
  readonly #lru: LRUCache<string, Cached>
  /**
   * Directories whose every entry is in the cache: a name not cached under them does not exist,
   * with no database read. A directory is complete when seen empty; it stops being complete when
   * one of its entries is evicted. Creating many files in a new directory (cp, tar, rsync, git)
   * thus never reads the disk to check that a name is free.
   */
  readonly #complete = new Set<number>()
  /**
   * Inodes whose every xattr is in the cache (created since start: they began with none), so the
   * xattr reads the kernel and the VFS make on new files (security.capability, policy) cost no read.
   * An inode leaves the set when one of its xattrs is evicted or is too large to cache.
   */
  readonly #xattrComplete = new Set<number>()
  /** Generation: bumped by every commit that changed keys, and by clear(). */
  #gen = 0
  /** The keys changed by the most recent commits (null = everything, after clear()). */
  readonly #ring: Array<{ gen: number, keys: ReadonlyMap<string, unknown> | null }> = []

  constructor (maxEntries: number) {
    this.#lru = new LRUCache({
      max: Math.max(16, maxEntries),
      dispose: (value, k, reason) => {
        if (reason !== 'evict' || value === ABSENT) return
        const c = k.charCodeAt(0)
        if (c === 0x64) this.#complete.delete((value as DentryRec).parent)
        else if (c === 0x78) this.#xattrComplete.delete(inoOfKey(k))
        else if (c === 0x69) {
          // Keeps both sets no larger than the cache: only cached inodes can be in them.
          this.#complete.delete((value as InodeRec).ino)
          this.#xattrComplete.delete((value as InodeRec).ino)
        }
      }
    })
  }

  get size (): number { return this.#lru.size }

  get (key: string): Cached | undefined {
    const v = this.#lru.get(key)
    if (v !== undefined) return v
    const c = key.charCodeAt(0)
    if (c === 0x64) return this.#complete.has(inoOfKey(key)) ? ABSENT : undefined
    if (c === 0x78) return this.#xattrComplete.has(inoOfKey(key)) ? ABSENT : undefined
    return undefined
  }

  /** Number of directories known complete (for tests and stats). */
  get completeDirs (): number { return this.#complete.size }

  /** Call before reading the database; pass the result to `fill`. */
  readStarted (): number {
    return this.#gen
  }

  /** Caches a value read from the database if no commit since `startGen` changed `key`. */
  fill (key: string, value: Cached, startGen: number): void {
    if (this.#unchangedSince(key, startGen) && !this.#lru.has(key)) this.#set(key, value)
  }

  /**
   * After a full listing of `dir` read since `startGen` was filled: marks it complete if no commit
   * changed it since (every entry change updates the directory's inode) and every entry is cached.
   */
  markComplete (dir: number, entryKeys: readonly string[], startGen: number): void {
    if (!this.#unchangedSince(`i${dir}`, startGen)) return
    for (const k of entryKeys) if (!this.#lru.has(k)) return
    this.#complete.add(dir)
  }

  /** True when no commit since `startGen` changed `key`: a value read from the database since then is current. */
  unchangedSince (key: string, startGen: number): boolean {
    return this.#unchangedSince(key, startGen)
  }

  #unchangedSince (key: string, startGen: number): boolean {
    if (startGen === this.#gen) return true
    const oldest = this.#ring[0]
    if (oldest == null || oldest.gen > startGen + 1) return false
    for (const c of this.#ring) if (c.gen > startGen && (c.keys == null || c.keys.has(key))) return false
    return true
  }

  /** The most entries a directory may have to be marked complete by a listing (a quarter of the cache). */
  get maxCompleteListing (): number { return Math.floor(this.#lru.max / 4) }

  /** Applies a committed batch's final values; `created` are the inodes it created. */
  commit (changes: ReadonlyMap<string, Cached>, created: readonly number[] = []): void {
    for (const ino of created) this.#xattrComplete.add(ino)
    for (const [k, v] of changes) this.#set(k, v)
    // A directory created in this batch began empty and every entry it got is among the changes
    // (batches hold many ops now: it may already have entries, so the entries === 0 rule misses it).
    // One pass over the changes for all of them: a batch may create hundreds (tar x, mkdir -p).
    const dirs = created.filter(ino => {
      const rec = this.#lru.get(`i${ino}`)
      return rec != null && rec !== ABSENT && (rec as InodeRec).type === 'dir'
    })
    if (dirs.length > 0) {
      const partial = new Set<number>()
      for (const [k, v] of changes) {
        // `d<parent>/<name>` entries the cache could not keep leave their parent incomplete
        if (v === ABSENT || k[0] !== 'd' || this.#lru.has(k)) continue
        partial.add(Number(k.slice(1, k.indexOf('/'))))
      }
      for (const ino of dirs) if (!partial.has(ino)) this.#complete.add(ino)
    }
    this.#remember(changes)
  }

  /** Forgets everything (after a failed commit: memory must not be ahead of the disk). */
  clear (): void {
    this.#lru.clear()
    this.#complete.clear()
    this.#xattrComplete.clear()
    this.#remember(null)
  }

  #set (key: string, value: Cached): void {
    if (value instanceof Uint8Array && value.byteLength > XATTR_CACHE_MAX_VALUE_BYTES) {
      this.#lru.delete(key)
      this.#xattrComplete.delete(inoOfKey(key))
      return
    }
    this.#lru.set(key, value)
    if (key.charCodeAt(0) !== 0x69) return
    // An inode: a directory seen with no entries is complete; a removed one is forgotten.
    if (value === ABSENT) {
      this.#complete.delete(Number(key.slice(1)))
      this.#xattrComplete.delete(Number(key.slice(1)))
    } else if ((value as InodeRec).type === 'dir' && (value as InodeRec).entries === 0) this.#complete.add((value as InodeRec).ino)
  }

  #remember (keys: ReadonlyMap<string, unknown> | null): void {
    this.#gen++
    this.#ring.push({ gen: this.#gen, keys })
    if (this.#ring.length > COMMIT_RING_SIZE) this.#ring.shift()
  }
}

/** The number before the "/" of a `d<parent>/<name>` or `x<ino>/<name>` key. */
function inoOfKey (k: string): number {
  return Number(k.slice(1, k.indexOf('/')))
}
