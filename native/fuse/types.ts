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

/** Low-level operations. Inode numbers are JS numbers; the root is 1. */
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
  flush: (ctx: FuseContext, ino: number, fh: number, lockOwner: bigint) => Promise<void>
  release: (ctx: FuseContext, ino: number, fh: number, flags: number) => Promise<void>
  fsync: (ctx: FuseContext, ino: number, fh: number, datasync: boolean) => Promise<void>
  opendir: (ctx: FuseContext, ino: number, flags: number) => Promise<FuseOpenReply>
  /** Entries starting at `offset`; the binding packs as many as fit in `size` bytes (see `direntSize`). */
  readdir: (ctx: FuseContext, ino: number, fh: number, offset: number, size: number, plus: boolean) => Promise<FuseDirent[]>
  releasedir: (ctx: FuseContext, ino: number, fh: number) => Promise<void>
  fsyncdir: (ctx: FuseContext, ino: number, fh: number, datasync: boolean) => Promise<void>
  statfs: (ctx: FuseContext, ino: number) => Promise<FuseStatfs>
  /** flags: XATTR_CREATE (1), XATTR_REPLACE (2). */
  setxattr: (ctx: FuseContext, ino: number, name: string, value: Uint8Array, flags: number) => Promise<void>
  /** The whole value; the binding answers size probes and ERANGE itself. */
  getxattr: (ctx: FuseContext, ino: number, name: string) => Promise<Uint8Array>
  /** All names; the binding joins them and answers size probes and ERANGE itself. */
  listxattr: (ctx: FuseContext, ino: number) => Promise<string[]>
  removexattr: (ctx: FuseContext, ino: number, name: string) => Promise<void>
  access: (ctx: FuseContext, ino: number, mask: number) => Promise<void>
  create: (ctx: FuseContext, parent: number, name: string, mode: number, flags: number) => Promise<FuseCreateReply>
  fallocate: (ctx: FuseContext, ino: number, fh: number, mode: number, offset: number, length: number) => Promise<void>
}

export interface FuseMountOptions {
  /** Shown in /proc/mounts and df (default 'palm'). */
  fsname?: string
  /** fuse.<subtype> (default 'palm'). */
  subtype?: string
  /** Let the kernel check permissions from modes (default true). */
  defaultPermissions?: boolean
  /** Other users may use the mount; applied only when /etc/fuse.conf allows it or we are root (default false). */
  allowOther?: boolean
  /** Max bytes per write request (default 1 MiB, the kernel may lower it). */
  maxWriteBytes?: number
  /** Default entry / attribute cache timeouts in seconds (default 1). */
  entryTimeoutSec?: number
  attrTimeoutSec?: number
  /** Offer readdirplus to the kernel (default true). */
  readdirplus?: boolean
  /** Kernel write-back cache (default false: PALM sees every write). */
  writebackCache?: boolean
  /** Worker threads reading /dev/fuse (default 1: the JS loop is the bottleneck anyway). */
  threads?: number
  /** libfuse debug output to stderr. */
  debug?: boolean
}

export interface FuseSession {
  readonly mountpoint: string
  /** Unmounts (lazily if busy) and ends the session; pending requests are answered with EIO. Idempotent. */
  unmount: () => Promise<void>
  /** Drops the kernel's cached attributes (and data in [offset, offset+len), len 0 = all) of an inode. */
  notifyInvalInode: (ino: number, offset: number, length: number) => void
  /** Drops the kernel's cached name → inode mapping. */
  notifyInvalEntry: (parent: number, name: string) => void
}

/** A rejection a handler may use: `errno` is negative (e.g. -2 for ENOENT). */
export interface FuseErrnoError {
  errno: number
}
