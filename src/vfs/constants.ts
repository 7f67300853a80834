/**
 * Defaults and fixed numbers of the VFS layer. Sizes in bytes.
 */
import { constants as fsConstants } from 'node:fs'

/**
 * Stripe size when VfsInit gives none: 4 MiB, the chunk layer's DEFAULT_STRIPE_SIZE_BYTES (vfs may
 * not import chunk; a unit test keeps the two equal). The daemon passes the configured value.
 */
export const DEFAULT_STRIPE_SIZE_BYTES = 4 * 1024 * 1024
/** Dirty write-buffer budget over all open files. */
export const DEFAULT_DIRTY_LIMIT_BYTES = 256 * 1024 * 1024
/** Read cache of decoded stripes. */
export const DEFAULT_CACHE_LIMIT_BYTES = 256 * 1024 * 1024
/** Stripe stores running at once. */
export const DEFAULT_MAX_INFLIGHT_STRIPES = 4
/**
 * Read-ahead window for sequential readers: four 4 MiB stripes. With two (8 MiB) a cold 512 MiB
 * read ran at 344 MB/s in-process and 1.82-2.03 s through the mount; with four, 431 MB/s and
 * 1.71-1.73 s (6 was no better: the decode workers are busy).
 */
export const DEFAULT_READ_AHEAD_BYTES = 16 * 1024 * 1024
/** Read-ahead fetches running at once. */
export const DEFAULT_MAX_INFLIGHT_READ_AHEAD = 4
/**
 * Limits the journal enforces, checked here first so errors carry POSIX codes and paths:
 * largest file (2^53 - 1), name component (255 bytes, ENAMETOOLONG), symlink target (4096 bytes),
 * xattr name (255 bytes, ERANGE) and value (64 KiB, E2BIG).
 */
export {
  MAX_FILE_SIZE_BYTES, NAME_MAX_BYTES, SYMLINK_MAX_BYTES as PATH_MAX_BYTES, XATTR_NAME_MAX_BYTES,
  XATTR_VALUE_MAX_BYTES as XATTR_SIZE_MAX_BYTES
} from '../meta/index.js'
/** statfs block size. */
export const STATFS_BLOCK_BYTES = 4096
/** Stripes asked of meta per batch when walking a whole file (fsync, health). */
export const STRIPE_BATCH = 256
/** Smallest dirty buffer allocation (grows by doubling up to the stripe size). */
export const MIN_BUFFER_BYTES = 4096
/**
 * A commit stores a stripe's small overwrites as slices (docs/vfs.md) when its dirty ranges hold at
 * most this many bytes in all; else it stores the whole stripe again.
 */
export const SLICE_MAX_BYTES = 256 * 1024
/** Most slices a stripe carries: a commit that would go past it stores the whole stripe (dropping them). */
export const SLICES_MAX_PER_STRIPE = 128
/**
 * A stripe with this many slices is compacted in the background (merged into a new base:
 * compaction.ts). Each compaction stores the whole stripe again; each commit rewrites the
 * stripe's row with all its slices: docs/vfs.md, "Compaction", weighs the two.
 */
export const COMPACT_SLICES = 64
/** A stripe whose slices hold this many bytes is compacted too. */
export const COMPACT_SLICE_BYTES = 1024 * 1024
/** Most separate dirty ranges one stripe tracks; more and it is stored whole. */
export const MAX_DIRTY_RANGES = 64

/** The policy xattr on directories (inherited) and files (effective). */
export const XATTR_POLICY = 'user.palm.policy'
/** Read-only health xattr on files. */
export const XATTR_HEALTH = 'user.palm.health'

/** open(2) access-mode mask. */
export const O_ACCMODE = 3
/** open(2): write only. */
export const O_WRONLY = fsConstants.O_WRONLY
/** open(2): read and write. */
export const O_RDWR = fsConstants.O_RDWR
/** open(2): create if missing. */
export const O_CREAT = fsConstants.O_CREAT
/** open(2): fail if it exists (with O_CREAT). */
export const O_EXCL = fsConstants.O_EXCL
/** open(2): truncate to 0. */
export const O_TRUNC = fsConstants.O_TRUNC
/** open(2): every write goes to the end. */
export const O_APPEND = fsConstants.O_APPEND

/** st_mode type mask. */
export const S_IFMT = 0o170000
/** st_mode: regular file. */
export const S_IFREG = 0o100000
/** st_mode: directory. */
export const S_IFDIR = 0o040000
/** st_mode: symbolic link. */
export const S_IFLNK = 0o120000
/** st_mode: FIFO. */
export const S_IFIFO = 0o010000
/** st_mode: socket. */
export const S_IFSOCK = 0o140000
/** st_mode: character device. */
export const S_IFCHR = 0o020000
/** st_mode: block device. */
export const S_IFBLK = 0o060000
/** st_mode: set-group-ID (on a directory: new entries take its group). */
export const S_ISGID = 0o2000

/** renameat2: fail if the target exists. */
export const RENAME_NOREPLACE = 1
/** renameat2: swap the two names. */
export const RENAME_EXCHANGE = 2

/** setxattr: fail if present. */
export const XATTR_CREATE = 1
/** setxattr: fail if absent. */
export const XATTR_REPLACE = 2

/** fallocate: do not change the size. */
export const FALLOC_FL_KEEP_SIZE = 1
/** fallocate: turn the range into a hole (needs KEEP_SIZE). */
export const FALLOC_FL_PUNCH_HOLE = 2

/** access(2): read. */
export const R_OK = 4
/** access(2): write. */
export const W_OK = 2
/** access(2): execute/search. */
export const X_OK = 1
