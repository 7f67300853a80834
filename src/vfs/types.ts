/**
 * Types of the VFS layer: an inode-based file system in PALM types (Attr, bigint ns times) whose
 * verbs mirror libfuse 3's low-level operations (native/fuse/types.ts). `src/fuse` adapts FuseOps
 * to this interface and maps errors with `toErrno`; nothing here knows about FUSE wire formats.
 */
import type { Attr, FileType, MetaStore } from '../meta/types.js'
import type { StripeIO, StripePolicy } from '../place/types.js'
import type { AbortOptions } from '../util/abort.js'
import type { ComponentLogger } from '../util/logger.js'

/** Who made the request (from the kernel). */
export interface VfsContext {
  uid: number
  gid: number
  pid: number
  /** The caller's umask, applied to the mode of new nodes. */
  umask: number
}

/** A time to set: signed nanoseconds since the epoch, or the current time. */
export type VfsTimeSet = bigint | 'now'

/** What setattr changes; absent fields stay as they are. */
export interface VfsSetattr {
  /** Permission bits (mask 0o7777); type bits are ignored. */
  mode?: number
  uid?: number
  gid?: number
  /** Truncate or extend (a hole) to this many bytes. */
  size?: number
  atime?: VfsTimeSet
  mtime?: VfsTimeSet
  ctimeNs?: bigint
}

/** What open and opendir return. */
export interface VfsOpenReply {
  /** Handle number, < 2^53 so it survives a JS number. */
  fh: number
  /** True when the content did not change since the kernel last cached it: keep its page cache. */
  keepCache: boolean
}

/** What create returns: the open reply plus the new file. */
export interface VfsCreateReply extends VfsOpenReply {
  /** The new file (the kernel holds one lookup on it). */
  attr: Attr
}

export interface VfsDirent {
  name: string
  ino: number
  type: FileType
  /** Offset of the next entry: pass it back to readdir to continue after this one. */
  nextOffset: number
  /** readdirplus only: the entry's attributes, as lookup would return them. */
  attr?: Attr
  /**
   * readdirplus only: true when the kernel takes a lookup reference on this entry if it is sent
   * (every entry except "." and ".."). The adapter calls `rememberLookup(ino)` for each such entry
   * it actually sends.
   */
  countsLookup?: boolean
}

export interface VfsStatfs {
  /** Block size in bytes (4096). */
  bsize: number
  /** Fragment size in bytes (4096). */
  frsize: number
  /** Usable capacity in frsize blocks (raw capacity × k/n). */
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  /** Longest name in bytes (255). */
  namemax: number
}

/** Counters for `palm status` and the dashboard. */
export interface VfsStats {
  /** Bytes held in dirty stripe buffers (charged by buffer capacity). */
  dirtyBytes: number
  /** The dirty budget in bytes. */
  dirtyLimitBytes: number
  /** Writers waiting for dirty budget right now. */
  dirtyWaiters: number
  /** Bytes of decoded stripes in the read cache. */
  cacheBytes: number
  cacheLimitBytes: number
  cacheHits: number
  cacheMisses: number
  /** hits / (hits + misses), 0 when nothing was read. */
  cacheHitRate: number
  /** Stripe stores (encode + place) running now. */
  inflightStripes: number
  /** Stripe stores waiting for a slot. */
  queuedStripes: number
  /** Stripe fetches (read or read-ahead) running now. */
  inflightReads: number
  /** Stripes fetched ahead of sequential readers since start. */
  readAheadStripes: number
  /** Inodes with open-file state (opened and not yet released). */
  openFiles: number
  /** Open file and directory handles. */
  openHandles: number
  /** Inodes the kernel holds lookups on. */
  trackedInodes: number
  /** Stripes stored since start. */
  stripesStored: number
  /** Stripes whose slices were merged into a new base in the background (compaction.ts). */
  stripesCompacted: number
  /** Bytes handed to write() since start. */
  bytesWritten: number
  /** Bytes returned by read() since start. */
  bytesRead: number
}

export interface VfsInit {
  /** Stripe size in bytes for new files (default 4 MiB, chunk's DEFAULT_STRIPE_SIZE_BYTES). */
  stripeSizeBytes?: number
  /** k/n for files under no directory with `user.palm.policy` (default 1-of-1). */
  defaultPolicy?: StripePolicy
  /** Upper bound on bytes held in dirty write buffers over all open files (default 256 MiB). */
  dirtyLimitBytes?: number
  /** Upper bound on decoded stripe bytes in the read cache (default 256 MiB). */
  cacheLimitBytes?: number
  /** Stripe stores (encode + place) running at once (default 4). */
  maxInflightStripes?: number
  /** How far sequential readers prefetch, in bytes, rounded up to whole stripes (default 8 MiB). */
  readAheadBytes?: number
  /** Stripe fetches (reads and read-ahead) running at once for read-ahead (default 4). */
  maxInflightReadAhead?: number
  /** Largest file size in bytes (default 2^53 - 1; writes past it give EFBIG). */
  maxFileSizeBytes?: number
  /** Refuse every change with ReadOnlyError (default false). */
  readOnly?: boolean
}

export interface VfsComponents {
  meta: MetaStore
  stripes: StripeIO
  logger: ComponentLogger
}

/**
 * The file system as the FUSE adapter sees it. Every call takes the request's context and
 * `options` (the adapter passes a per-op deadline signal) and throws only PalmErrors.
 * Calls that hand an entry to the kernel (lookup, mknod, mkdir, symlink, link, create) count one
 * kernel lookup on it; `forget` drops them.
 */
export interface Vfs {
  /** Starts background machinery. Idempotent. */
  start: () => Promise<void>
  /** Commits every open file's dirty data, then stops background work. Idempotent. */
  stop: () => Promise<void>

  lookup: (ctx: VfsContext, parent: number, name: string, options?: AbortOptions) => Promise<Attr>
  /** The kernel dropped `nlookup` references. Never rejects (failures are logged). */
  forget: (ino: number, nlookup: number) => Promise<void>
  /** Counts one kernel lookup on an entry a readdirplus reply actually sent. */
  rememberLookup: (ino: number) => void
  getattr: (ctx: VfsContext, ino: number, fh: number | undefined, options?: AbortOptions) => Promise<Attr>
  setattr: (ctx: VfsContext, ino: number, set: VfsSetattr, fh: number | undefined, options?: AbortOptions) => Promise<Attr>
  readlink: (ctx: VfsContext, ino: number, options?: AbortOptions) => Promise<string>
  /** `mode` carries the type bits (S_IFREG, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK) and permissions. */
  mknod: (ctx: VfsContext, parent: number, name: string, mode: number, rdev: number, options?: AbortOptions) => Promise<Attr>
  mkdir: (ctx: VfsContext, parent: number, name: string, mode: number, options?: AbortOptions) => Promise<Attr>
  unlink: (ctx: VfsContext, parent: number, name: string, options?: AbortOptions) => Promise<void>
  rmdir: (ctx: VfsContext, parent: number, name: string, options?: AbortOptions) => Promise<void>
  symlink: (ctx: VfsContext, target: string, parent: number, name: string, options?: AbortOptions) => Promise<Attr>
  /** flags: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2). */
  rename: (ctx: VfsContext, parent: number, name: string, newParent: number, newName: string, flags: number, options?: AbortOptions) => Promise<void>
  link: (ctx: VfsContext, ino: number, newParent: number, newName: string, options?: AbortOptions) => Promise<Attr>
  /** flags: open(2) flags (O_ACCMODE, O_APPEND, O_TRUNC, …). */
  open: (ctx: VfsContext, ino: number, flags: number, options?: AbortOptions) => Promise<VfsOpenReply>
  create: (ctx: VfsContext, parent: number, name: string, mode: number, flags: number, options?: AbortOptions) => Promise<VfsCreateReply>
  /** At most `size` bytes; fewer only at end of file. */
  read: (ctx: VfsContext, ino: number, fh: number, offset: number, size: number, options?: AbortOptions) => Promise<Uint8Array>
  /** Copies `data` (the binding reuses it). Returns the bytes written. */
  write: (ctx: VfsContext, ino: number, fh: number, offset: number, data: Uint8Array, flags: number, options?: AbortOptions) => Promise<number>
  /** Commits the file (close point): stores dirty stripes, then one manifest update. */
  flush: (ctx: VfsContext, ino: number, fh: number, lockOwner: bigint, options?: AbortOptions) => Promise<void>
  release: (ctx: VfsContext, ino: number, fh: number, flags: number, options?: AbortOptions) => Promise<void>
  /** Commits, then makes fragments and journal stable (power-loss point). */
  fsync: (ctx: VfsContext, ino: number, fh: number, datasync: boolean, options?: AbortOptions) => Promise<void>
  opendir: (ctx: VfsContext, ino: number, flags: number, options?: AbortOptions) => Promise<VfsOpenReply>
  /** Up to `limit` entries from `offset` (0 = start, then "." and ".."); `plus` adds attrs. */
  readdir: (ctx: VfsContext, ino: number, fh: number, offset: number, limit: number, plus: boolean, options?: AbortOptions) => Promise<VfsDirent[]>
  releasedir: (ctx: VfsContext, ino: number, fh: number, options?: AbortOptions) => Promise<void>
  fsyncdir: (ctx: VfsContext, ino: number, fh: number, datasync: boolean, options?: AbortOptions) => Promise<void>
  statfs: (ctx: VfsContext, ino: number, options?: AbortOptions) => Promise<VfsStatfs>
  /** flags: XATTR_CREATE (1), XATTR_REPLACE (2). */
  setxattr: (ctx: VfsContext, ino: number, name: string, value: Uint8Array, flags: number, options?: AbortOptions) => Promise<void>
  /** NoDataError when absent. */
  getxattr: (ctx: VfsContext, ino: number, name: string, options?: AbortOptions) => Promise<Uint8Array>
  listxattr: (ctx: VfsContext, ino: number, options?: AbortOptions) => Promise<string[]>
  removexattr: (ctx: VfsContext, ino: number, name: string, options?: AbortOptions) => Promise<void>
  /** mask: F_OK (0) or R_OK (4) | W_OK (2) | X_OK (1). */
  access: (ctx: VfsContext, ino: number, mask: number, options?: AbortOptions) => Promise<void>
  /** mode 0 (allocate, may extend), FALLOC_FL_KEEP_SIZE (1), FALLOC_FL_PUNCH_HOLE|KEEP_SIZE (3). */
  fallocate: (ctx: VfsContext, ino: number, fh: number, mode: number, offset: number, length: number, options?: AbortOptions) => Promise<void>

  stats: () => VfsStats
  /**
   * When the oldest store not yet named by a journal op started, ms since the epoch (undefined:
   * none): an open file's stores before its commit, a running compaction. Their fragments are in
   * the fragment store but in no op yet, so GC keeps every fragment put since then.
   */
  uncommittedSinceMs: () => number | undefined
  /**
   * Subscribes to what the kernel must drop after another device's ops changed the journal (the
   * VFS has dropped its own caches by then). Only inodes and names the kernel can hold are listed
   * (inodes it has a lookup on or open, names under such directories). Called synchronously from
   * the journal's commit: the listener must not block or throw, and must not call the kernel's
   * notify functions from there (see src/fuse/notify.ts). Returns the unsubscribe.
   */
  onInvalidate: (listener: (inv: VfsInvalidation) => void) => () => void
}

/** What the kernel should drop after a remote change (see Vfs.onInvalidate). */
export interface VfsInvalidation {
  /** Names whose dentry may be stale (added, removed, replaced, renamed); the parent's attributes go with them. */
  entries: Array<{ parent: number, name: string }>
  /** Inodes whose attributes changed (size, times, mode, link count). */
  attrs: number[]
  /** Files whose content changed: drop cached pages too (implies attrs). */
  data: number[]
}
