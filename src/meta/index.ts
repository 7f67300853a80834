/**
 * @packageDocumentation
 * The metadata journal: PALM's file-system tree as an append-only, signed op log in SQLite (WAL),
 * with the tree the VFS sees materialised from it in the same transactions.
 *
 * Invariants:
 * - The op log is the truth. Each op carries a hybrid logical clock, its author device, a
 *   per-author seq (no gaps) and the author's Ed25519 signature; ops name nodes by global node id,
 *   so every device applying the log in (hlc, author, seq) order derives the same tree.
 * - POSIX rules (exists, not found, not a directory, not empty, rename into itself, link counts,
 *   times) are enforced here, atomically, by one writer that applies ops one at a time.
 * - A mutating call resolves only after its op's transaction is committed to the WAL (a killed
 *   process loses nothing); `sync()` is the power-loss point. Concurrent calls share commits.
 * - Memory is bounded: an LRU of committed inodes, entries and xattrs answers hot getattr/lookup
 *   without the disk; nothing uncommitted is ever visible to readers, and a failed commit drops
 *   every in-memory change so memory never runs ahead of the disk.
 * - `onChange` reports every committed batch (inodes, entries, content, xattrs; remote or local):
 *   the VFS and the kernel follow other devices' changes through it (change-feed.ts).
 * - meta imports no other layer (not chunk, place or net); peers are reached later through a
 *   JournalTransport wired by the daemon, using exportOps/applyOp.
 */
import { SqliteMetaStore, type MetaStoreInit } from './sqlite-store.js'
import type { MetaStore } from './types.js'

export type { MetaStoreInit, SyncMode } from './sqlite-store.js'
export { SqliteMetaStore } from './sqlite-store.js'
export * from './types.js'
export { verifyOp, decodeOp, encodeOp, nodeIdOf, bodyHash } from './op.js'
export { systemClock } from './hlc.js'
export { rebuildJournal, type JournalRebuild } from './rebuild.js'
export * from './constants.js'

/** Creates the journal; nothing is opened until `start()`. */
export function createMetaStore (init: MetaStoreInit): SqliteMetaStore & MetaStore {
  return new SqliteMetaStore(init)
}
export { baseOf, mergedLength, partsOf } from './slices.js'
