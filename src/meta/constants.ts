/**
 * Limits and defaults of the metadata journal. Units are in the names.
 */

/** Longest name of a directory entry, in UTF-8 bytes (NAME_MAX). */
export const NAME_MAX_BYTES = 255
/** Longest symlink target, in UTF-8 bytes. */
export const SYMLINK_MAX_BYTES = 4096
/** Longest extended-attribute name, in UTF-8 bytes (XATTR_NAME_MAX). */
export const XATTR_NAME_MAX_BYTES = 255
/** Largest extended-attribute value, in bytes (XATTR_SIZE_MAX). */
export const XATTR_VALUE_MAX_BYTES = 65536
/** Largest file size, in bytes: 2^53 - 1 (sizes are JS numbers). */
export const MAX_FILE_SIZE_BYTES = Number.MAX_SAFE_INTEGER
/** Largest stripe size a manifest may declare, in bytes (1 GiB). */
export const MAX_STRIPE_SIZE_BYTES = 1024 * 1024 * 1024
/** Largest link count (st_nlink is 32-bit in FUSE). */
export const MAX_LINKS = 0xffff_ffff
/** Largest |seconds| of a timestamp we store exactly (seconds are kept as a JS number). */
export const MAX_TIME_SECONDS = Number.MAX_SAFE_INTEGER

/** Default number of inodes, directory entries and xattrs kept in the in-memory LRU. */
export const DEFAULT_CACHE_ENTRIES = 65536
/** Xattr values larger than this many bytes are not cached (they still read from the database). */
export const XATTR_CACHE_MAX_VALUE_BYTES = 4096
/** Commits slower than this many milliseconds are logged (a disk in trouble). */
export const SLOW_COMMIT_MS = 1000
/**
 * Longest a batch holding only early replies (a create answered before its commit) waits for a call
 * that needs a commit (the file's setContent at close), in ms, so that both share one transaction.
 * Anyone waiting for such a batch (close of an empty file, fsync, readdir) commits it at once.
 */
export const EARLY_COMMIT_DELAY_MS = 10
/**
 * Most local ops between two seals (signed ops, seal.ts): the writer signs the last local op of
 * each committed batch, and one every SEAL_MAX_OPS ops or SEAL_MAX_BYTES of op text within a batch.
 * A server of ops extends a run to its seal, so a pull reply or push frame may exceed its op limit
 * by up to this many ops (net's JOURNAL_SEAL_SPACING_OPS, which receivers allow for). Signing and
 * verifying one op in 64 costs ~1 µs per op.
 */
export const SEAL_MAX_OPS = 64
/** Most op text (UTF-16 units) between two seals (see SEAL_MAX_OPS), besides the seal's own. */
export const SEAL_MAX_BYTES = 64 * 1024
/** Most ops group-committed in one transaction. */
export const MAX_BATCH_OPS = 1024
/** How many recent commits are remembered to tell whether a concurrent database read is stale. */
export const COMMIT_RING_SIZE = 64
/** Rows per page when iterating large tables (stripes, ops). */
export const PAGE_ROWS = 1000
/** Most problems `check()` lists in detail (counts are always complete). */
export const MAX_LISTED_PROBLEMS = 1000

/** Node id of the root directory: the same on every device. */
export const ROOT_NODE = 'root'
/** Version of the op format (the `v` field of every op) of ops an older PALM can read. */
export const OP_VERSION = 1
/**
 * Version of ops that use slices (a setContent with `addSlices`): an older PALM refuses them
 * (it would read the base stripe without its slices) and reads every v1 op as before.
 */
export const OP_VERSION_SLICES = 2
/** Most slices one stripe may carry (the VFS rewrites the stripe long before: SLICES_MAX_PER_STRIPE). */
export const MAX_SLICES_PER_STRIPE = 256
