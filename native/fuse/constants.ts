/**
 * Numbers shared with the C addon (native/fuse/src/palm_fuse.h). A unit test compares them with
 * the addon's own `opCodes()` so the two sides cannot drift apart.
 */

/** Request op codes, as the addon passes them to the dispatcher. */
export const OP = {
  lookup: 1,
  getattr: 2,
  setattr: 3,
  readlink: 4,
  mknod: 5,
  mkdir: 6,
  unlink: 7,
  rmdir: 8,
  symlink: 9,
  rename: 10,
  link: 11,
  open: 12,
  read: 13,
  write: 14,
  flush: 15,
  release: 16,
  fsync: 17,
  opendir: 18,
  readdir: 19,
  releasedir: 20,
  fsyncdir: 21,
  statfs: 22,
  setxattr: 23,
  getxattr: 24,
  listxattr: 25,
  removexattr: 26,
  access: 27,
  create: 28,
  fallocate: 29
} as const

export type OpName = keyof typeof OP

/** Ops a file system may leave out (the kernel then stops asking after one ENOSYS). */
export const OPTIONAL_OPS = ['flush', 'fsync', 'fsyncdir', 'setxattr', 'getxattr', 'listxattr', 'removexattr', 'access', 'fallocate'] as const

/** Op names by code (index 0 unused). */
export const OP_NAMES: readonly string[] = (() => {
  const names: string[] = ['']
  for (const [name, code] of Object.entries(OP)) names[code] = name
  return names
})()

/** Doubles per request in the shared IN array: [uid, gid, pid, umask, ...op arguments]. */
export const IN_LEN = 20
/** Doubles in the shared OUT array a reply is read from. */
export const OUT_LEN = 24
/** OUT layout: attr fields 0..13 (see ATTR_FIELDS), then these. */
export const OUT_GEN = 14
export const OUT_ENTRY_TIMEOUT = 15
export const OUT_ATTR_TIMEOUT = 16
export const OUT_FH = 17
export const OUT_OPEN_FLAGS = 18
/** Doubles per readdir entry: ino, mode, nextOffset, hasEntry, then an OUT-layout entry (17). */
export const DIRENT_STRIDE = 21

/** Bits of OUT[OUT_OPEN_FLAGS]. */
export const OPEN_DIRECT_IO = 1
export const OPEN_KEEP_CACHE = 2
export const OPEN_NONSEEKABLE = 4
export const OPEN_CACHE_DIR = 8

/** setattr `to_set` bits (libfuse FUSE_SET_ATTR_*). */
export const SET_ATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  CTIME: 1 << 10
} as const

/** renameat2 flags passed through to `rename`. */
export const RENAME_NOREPLACE = 1
export const RENAME_EXCHANGE = 2

/** Largest integer a JS number holds exactly; inodes, sizes, offsets and fh stay below it. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** Size in bytes of a struct fuse_dirent / fuse_direntplus header before the name. */
export const DIRENT_HEADER_BYTES = 24
export const DIRENTPLUS_HEADER_BYTES = 152

/** Linux errno values the binding itself answers with. */
export const ERRNO = {
  EIO: 5,
  ENOENT: 2,
  EINVAL: 22,
  ENOSYS: 38,
  ERANGE: 34,
  ETIMEDOUT: 110
} as const

/** Events the addon reports through the event callback. */
export const EVENT_INIT = 1
export const EVENT_ENDED = 2
export const EVENT_TIMEOUT = 3
