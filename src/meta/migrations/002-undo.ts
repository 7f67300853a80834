/**
 * Schema version 2: each op keeps its undo record (what its changes replaced), so that an op that
 * arrives late from another device is applied by undoing the newer ops, applying it, and redoing
 * them (docs/journal.md, "Late ops"). Ops logged before this version have none: they are never
 * undone (a late op older than them is refused with a message). A file's `ver` names the op that
 * last changed its content: a write made without seeing it is concurrent (a conflict copy). Two
 * directories made with one name on two devices merge: the later's node id becomes an alias.
 */
import type { Migration } from './index.js'

export const undo: Migration = {
  version: 2,
  description: 'undo records of ops (late ops from other devices); content versions of files (concurrent writes)',
  sql: 'ALTER TABLE ops ADD COLUMN undo TEXT; ALTER TABLE inodes ADD COLUMN ver TEXT; CREATE TABLE node_aliases(node TEXT PRIMARY KEY, ino INTEGER NOT NULL) WITHOUT ROWID;'
}
