/**
 * Constants of the local fragment store (layout names and defaults). See docs/store.md for the
 * measurements behind the defaults.
 */

/** Version of the on-disk layout written to `store.json`; a newer one is refused at start. */
export const STORE_LAYOUT_VERSION = 1
/** Layout description at the store root (version, pack threshold, sharding). */
export const LAYOUT_FILE = 'store.json'
/** Large fragments, one file each: `fragments/<2 chars>/<cid>`. */
export const FRAGMENTS_DIR = 'fragments'
/** Small fragments, appended to segment files: `packs/<8 hex digits>.pack`. */
export const PACKS_DIR = 'packs'
/** Temp files of unfinished writes; emptied at start (crash leftovers). */
export const TMP_DIR = 'tmp'
/** Corrupt fragments moved aside (never deleted by the store; `palm fsck` reports them). */
export const QUARANTINE_DIR = 'quarantine'

/** Characters of the CID (the two before the last) that name a fragment file's shard directory: 1024 directories. */
export const SHARD_CHARS = 2
/**
 * Fragments smaller than this go to pack segments; the rest get a file each. Default 1 MiB: packs
 * measured 15× faster for 1–64 KiB fragments and 2.4× for 256 KiB, files 1.4× faster for 1 MiB
 * (docs/store.md), and a full 4 MiB stripe at k ≤ 4 has fragments just over 1 MiB.
 */
export const DEFAULT_PACK_THRESHOLD_BYTES = 1024 * 1024
/** A pack segment is sealed when the next record would take it past this size. Default 32 MiB. */
export const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024
/** Capacity when none is configured (or 0): this fraction of the disk's free space at start, plus what is stored. */
export const DEFAULT_CAPACITY_FRACTION = 0.9
/** Parallel fsync/stat calls of one sync batch or start-up scan (the libuv pool has 4 threads). */
export const IO_CONCURRENCY = 16
/** Unsynced fragments tracked before a background sync is started, to bound memory. */
export const MAX_UNSYNCED = 65_536
/** How stale the cached free space of the disk may get before a refresh is started, in ms. */
export const DISK_FREE_REFRESH_MS = 1000
/** Pack segments kept open for reading at once (file descriptors). */
export const MAX_OPEN_SEGMENTS = 64
/** Largest batch of records written by one writev, in bytes (and at most 512 records). */
export const MAX_APPEND_BATCH_BYTES = 8 * 1024 * 1024
/**
 * Batches of pack records up to this many bytes are written with a synchronous writev on the event
 * loop (~5–20 µs into the page cache) instead of a threadpool round trip (~40–400 µs on a busy
 * machine): a small file's close then waits for no other thread. Larger batches stay asynchronous.
 */
export const SYNC_APPEND_MAX_BYTES = 64 * 1024
/** A sealed segment whose dead (deleted or superseded) bytes reach this fraction is rewritten by compaction. */
export const DEFAULT_COMPACT_DEAD_RATIO = 0.5
/** Default scrub rate in bytes per second (32 MiB/s). */
export const DEFAULT_SCRUB_BYTES_PER_SECOND = 32 * 1024 * 1024
