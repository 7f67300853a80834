/**
 * What the VFS knows about inodes the kernel holds: kernel lookup counts (lookup/forget), open
 * counts (open/create … release), whether the inode's last name is gone, and its open-file state.
 * An inode whose nlink reached 0 is released in meta only when both counts are 0: until then an
 * unlinked file stays readable (unlink while open). A record exists only while a count is non-zero.
 */
import type { OpenFile } from './write-buffer.js'

/** What the VFS tracks for one inode the kernel holds or that is open. */
export interface InodeRecord {
  readonly ino: number
  /** Kernel lookup references (lookup, mknod, mkdir, symlink, link, create, readdirplus). */
  lookups: number
  /** Open file handles. */
  opens: number
  /** nlink reached 0: release the inode in meta when both counts are 0. */
  unlinked: boolean
  /** Open-file state: dirty stripes and overlay size/mtime (while open and written). */
  file?: OpenFile
  /** size:mtime of the content when the kernel last had it cached (for keepCache). */
  cacheStamp?: string
}

/** Inode records, created by the first lookup or open and dropped when both counts reach 0. */
export class InodeTable {
  readonly #records = new Map<number, InodeRecord>()

  get size (): number { return this.#records.size }

  get (ino: number): InodeRecord | undefined {
    return this.#records.get(ino)
  }

  /** Every record (for stop and stats). */
  values (): IterableIterator<InodeRecord> {
    return this.#records.values()
  }

  #ensure (ino: number): InodeRecord {
    let r = this.#records.get(ino)
    if (r == null) {
      r = { ino, lookups: 0, opens: 0, unlinked: false }
      this.#records.set(ino, r)
    }
    return r
  }

  /** The kernel took `n` lookup references. */
  remember (ino: number, n = 1): void {
    this.#ensure(ino).lookups += n
  }

  /** The kernel dropped `n` references. Returns true when the inode must now be released in meta. */
  forget (ino: number, n: number): boolean {
    const r = this.#records.get(ino)
    if (r == null) return false
    r.lookups = Math.max(0, r.lookups - n)
    return this.#maybeDrop(r)
  }

  opened (ino: number): InodeRecord {
    const r = this.#ensure(ino)
    r.opens++
    return r
  }

  /** A handle was released. Returns true when the inode must now be released in meta. */
  closed (ino: number): boolean {
    const r = this.#records.get(ino)
    if (r == null) return false
    r.opens = Math.max(0, r.opens - 1)
    return this.#maybeDrop(r)
  }

  /** The inode's nlink reached 0. Returns true when nothing holds it: release it now. */
  markUnlinked (ino: number): boolean {
    const r = this.#records.get(ino)
    if (r == null) return true
    r.unlinked = true
    return false
  }

  /** The inode got a name again (link on an open unlinked file is refused, but be safe). */
  markLinked (ino: number): void {
    const r = this.#records.get(ino)
    if (r != null) r.unlinked = false
  }

  #maybeDrop (r: InodeRecord): boolean {
    if (r.lookups > 0 || r.opens > 0) return false
    // Open-file state outlives the counts only while its last release is committing.
    if (r.file != null) return false
    this.#records.delete(r.ino)
    return r.unlinked
  }

  /** Drops the record if nothing holds it any more (after open-file state went away). */
  settle (ino: number): boolean {
    const r = this.#records.get(ino)
    return r == null ? false : this.#maybeDrop(r)
  }
}
