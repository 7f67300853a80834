/**
 * The TypeScript surface of PALM's FUSE binding (libfuse 3, low-level inode API), as `src/fuse`
 * sees it. Promise-based: every handler resolves with its reply or rejects with an object whose
 * `errno` is a negative errno number; the binding answers the kernel exactly once per request.
 * Buffers the kernel passes (write data) are valid only until the handler's promise settles.
 */

/** Who made the request. */
export interface FuseContext {
  uid: number
  gid: number
  pid: number
  umask: number
}

/** struct stat, 64-bit numbers as JS numbers (inodes, sizes < 2^53), times as seconds + nanoseconds (signed). */
export interface FuseAttr {
  ino: number
  /** Type bits (S_IFREG, S_IFDIR, …) | permission bits. */
  mode: number
  nlink: number
  uid: number
  gid: number
  rdev: number
  size: number
  /** 512-byte blocks allocated. */
  blocks: number
  atimeSec: number
  atimeNsec: number
  mtimeSec: number
  mtimeNsec: number
  ctimeSec: number
  ctimeNsec: number
}

export interface FuseEntry {
  attr: FuseAttr
  generation?: number
  /** Seconds the kernel may cache the name → inode mapping (default: the mount's entryTimeoutSec). */
  entryTimeoutSec?: number
  /** Seconds the kernel may cache the attributes (default: the mount's attrTimeoutSec). */
  attrTimeoutSec?: number
}

export interface FuseAttrReply {
  attr: FuseAttr
  attrTimeoutSec?: number
}

export interface FuseOpenReply {
  /** Handle id, 64-bit safe as a JS number (< 2^53). */
  fh: number
  directIo?: boolean
  /** Keep the kernel page cache from a previous open (content unchanged since). */
  keepCache?: boolean
  nonSeekable?: boolean
}

export interface FuseCreateReply extends FuseEntry, FuseOpenReply {}

export type FuseTimeSet = { sec: number, nsec: number } | 'now'

/** What setattr changes; absent fields stay as they are (UTIME_OMIT). */
export interface FuseSetattr {
  mode?: number
  uid?: number
  gid?: number
  size?: number
  atime?: FuseTimeSet
  mtime?: FuseTimeSet
  ctime?: { sec: number, nsec: number }
}

export interface FuseStatfs {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  namemax: number
}

export interface FuseDirent {
  name: string
  ino: number
  /** Type bits (S_IF*) at least; full attr for readdirplus. */
  mode: number
  /** Offset of the *next* entry (what the kernel passes back to continue). */
  nextOffset: number
  /** readdirplus only: the entry as lookup would return it (the kernel then holds one lookup on it). */
  entry?: FuseEntry
}

/**
 * Low-level operations. Inode numbers are JS numbers; the root is 1. The optional ops (flush,
 * fsync, fsyncdir, xattrs, access, fallocate) may be left out: the kernel is then told ENOSYS
 * once and stops asking (close and fsync succeed without a round trip, xattr calls and fallocate
 * fail with EOPNOTSUPP, access is left to the mode bits).
 */
export interface FuseOps {
  init?: () => void
  destroy?: () => void
  lookup: (ctx: FuseContext, parent: number, name: string) => Promise<FuseEntry>
  /** The kernel dropped `nlookup` references to `ino`. No reply. */
  forget: (ino: number, nlookup: number) => void
  getattr: (ctx: FuseContext, ino: number, fh: number | undefined) => Promise<FuseAttrReply>
  setattr: (ctx: FuseContext, ino: number, set: FuseSetattr, fh: number | undefined) => Promise<FuseAttrReply>
  readlink: (ctx: FuseContext, ino: number) => Promise<string>
  mknod: (ctx: FuseContext, parent: number, name: string, mode: number, rdev: number) => Promise<FuseEntry>
  mkdir: (ctx: FuseContext, parent: number, name: string, mode: number) => Promise<FuseEntry>
  unlink: (ctx: FuseContext, parent: number, name: string) => Promise<void>
  rmdir: (ctx: FuseContext, parent: number, name: string) => Promise<void>
  symlink: (ctx: FuseContext, target: string, parent: number, name: string) => Promise<FuseEntry>
  /** flags: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2). */
  rename: (ctx: FuseContext, parent: number, name: string, newParent: number, newName: string, flags: number) => Promise<void>
  link: (ctx: FuseContext, ino: number, newParent: number, newName: string) => Promise<FuseEntry>
  open: (ctx: FuseContext, ino: number, flags: number) => Promise<FuseOpenReply>
  /** Resolves with at most `size` bytes (fewer only at end of file). */
  read: (ctx: FuseContext, ino: number, fh: number, offset: number, size: number) => Promise<Uint8Array>
  /** `data` is only valid until the promise settles: copy what you keep. Resolves with bytes written. */
  write: (ctx: FuseContext, ino: number, fh: number, offset: number, data: Uint8Array, flags: number) => Promise<number>
  flush?: (ctx: FuseContext, ino: number, fh: number, lockOwner: bigint) => Promise<void>
  release: (ctx: FuseContext, ino: number, fh: number, flags: number) => Promise<void>
  fsync?: (ctx: FuseContext, ino: number, fh: number, datasync: boolean) => Promise<void>
  opendir: (ctx: FuseContext, ino: number, flags: number) => Promise<FuseOpenReply>
  /**
   * Entries starting at `offset`. The binding packs them in order until `size` bytes are full
   * (`direntSize` tells how much each takes, so you can stop early); the rest are not sent and the
   * kernel asks again from the last sent entry's `nextOffset`. readdirplus (`plus`): every entry
   * you return with `entry`, except `.` and `..`, counts one lookup, as a lookup reply would (the
   * kernel takes none for `.`/`..`); the binding calls `forget(ino, 1)` itself for each counted
   * entry it could not send, so your counts always equal the kernel's.
   */
  readdir: (ctx: FuseContext, ino: number, fh: number, offset: number, size: number, plus: boolean) => Promise<FuseDirent[]>
  releasedir: (ctx: FuseContext, ino: number, fh: number) => Promise<void>
  fsyncdir?: (ctx: FuseContext, ino: number, fh: number, datasync: boolean) => Promise<void>
  statfs: (ctx: FuseContext, ino: number) => Promise<FuseStatfs>
  /** flags: XATTR_CREATE (1), XATTR_REPLACE (2). */
  setxattr?: (ctx: FuseContext, ino: number, name: string, value: Uint8Array, flags: number) => Promise<void>
  /** The whole value; the binding answers size probes and ERANGE itself. */
  getxattr?: (ctx: FuseContext, ino: number, name: string) => Promise<Uint8Array>
  /** All names; the binding joins them and answers size probes and ERANGE itself. */
  listxattr?: (ctx: FuseContext, ino: number) => Promise<string[]>
  removexattr?: (ctx: FuseContext, ino: number, name: string) => Promise<void>
  access?: (ctx: FuseContext, ino: number, mask: number) => Promise<void>
  create: (ctx: FuseContext, parent: number, name: string, mode: number, flags: number) => Promise<FuseCreateReply>
  fallocate?: (ctx: FuseContext, ino: number, fh: number, mode: number, offset: number, length: number) => Promise<void>
}

export interface FuseMountOptions {
  /** The mount's source, shown in /proc/mounts and df (default 'palm'; PALM's daemon: `palm:<home>`). */
  fsname?: string
  /** fuse.<subtype> (default 'palm'). */
  subtype?: string
  /** Let the kernel check permissions from modes (default true). */
  defaultPermissions?: boolean
  /** Other users may use the mount; applied only when /etc/fuse.conf allows it or we are root (default false). */
  allowOther?: boolean
  /** fusermount3 unmounts the mount when this process dies, even by SIGKILL (default false: a crash leaves a stale mount that `recoverStaleMount` clears). */
  autoUnmount?: boolean
  /** Max bytes per write request (default 1 MiB, the most libfuse 3 takes; the kernel may lower it). */
  maxWriteBytes?: number
  /** st_blksize reported for every inode: the I/O size cp, rsync and dd pick (default maxWriteBytes). */
  ioSizeBytes?: number
  /** Default entry cache timeout in seconds (default 1). */
  entryTimeoutSec?: number
  /** Default attribute cache timeout in seconds (default 1). */
  attrTimeoutSec?: number
  /** Offer readdirplus: true always, 'auto' when the kernel thinks it pays (default 'auto'), false never. */
  readdirplus?: boolean | 'auto'
  /**
   * Store `security.capability` xattrs (setcap). Default false: the binding itself answers the
   * kernel's capability probe before every write(2) with ENODATA and refuses setcap with
   * EOPNOTSUPP, which saves one round trip to JS per write call.
   */
  securityCapability?: boolean
  /** Kernel write-back cache (default false: PALM sees every write). */
  writebackCache?: boolean
  /**
   * Threads reading /dev/fuse. 0 (default): the JS thread reads /dev/fuse itself when epoll says a
   * request is queued, so a request costs no thread hand-off; N ≥ 1: N fuse threads read and hand
   * requests to the JS thread (fuse-native's bridge). See docs/fuse-binding.md for measurements.
   */
  threads?: number
  /** Kernel readahead for this mount in KiB (default 1024: sequential reads arrive in 1 MiB requests). Needs root (it writes /sys/class/bdi/…/read_ahead_kb); otherwise the kernel's 128 KiB stays. 0 leaves it alone. */
  readAheadKb?: number
  /** Requests handed to JS and not yet answered, at most (default 1024); the kernel queues the rest. */
  maxInFlight?: number
  /** A request JS has not settled after this many ms is answered ETIMEDOUT (default 15000, 0 = never). src/fuse answers earlier with its own errno. */
  timeoutMs?: number
  /** libfuse debug output to stderr. */
  debug?: boolean
}

/** Counters kept by the binding (cumulative since mount unless noted). */
export interface FuseSessionStats {
  /** Requests handed to JS. */
  requests: number
  /** JS wake-ups that carried at least one request. */
  batches: number
  /** Most requests handed over in one wake-up. */
  maxBatch: number
  /** Inode references dropped by the kernel (sum of forget counts delivered). */
  forgets: number
  /** Requests answered ETIMEDOUT because JS did not settle them in time. */
  timeouts: number
  /** Times a fuse thread waited for a free slot (maxInFlight reached). */
  slotWaits: number
  /** Answers JS sent that the kernel accepted. */
  replies: number
  /** Answers the kernel refused (the request was interrupted or the connection is gone). */
  replyFailures: number
  /** Answers for a slot that was not in use (a second answer to one request): ignored. */
  staleReplies: number
  /** Requests currently handed to JS and not settled (now). */
  slotsInUse: number
  /** Receive buffers allocated (each maxWriteBytes + 4 KiB). */
  buffers: number
  /** max_write the kernel agreed to, bytes. */
  maxWrite: number
  /** Readahead the kernel agreed to, bytes. */
  maxReadahead: number
  /** FUSE_CAP_* bits in use. */
  capabilities: number
}

export interface FuseSession {
  readonly mountpoint: string
  /** Resolves when the session has ended: after `unmount()`, or when the mount went away from outside. */
  readonly closed: Promise<void>
  /** Unmounts (lazily if busy) and ends the session; pending requests are answered with EIO. Idempotent. */
  unmount: () => Promise<void>
  /** Drops the kernel's cached attributes (and data in [offset, offset+len), len 0 = all) of an inode. Queued; never blocks. */
  notifyInvalInode: (ino: number, offset: number, length: number) => void
  /** Drops the kernel's cached name → inode mapping. Queued; never blocks. */
  notifyInvalEntry: (parent: number, name: string) => void
  /** The binding's counters. */
  stats: () => FuseSessionStats
}

/** A rejection a handler may use: `errno` is negative (e.g. -2 for ENOENT). */
export interface FuseErrnoError {
  errno: number
}
