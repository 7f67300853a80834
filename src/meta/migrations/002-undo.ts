/**
 * Schema version 2: each op keeps its undo record (what its changes replaced), so that an op that
 * arrives late from another device is applied by undoing the newer ops, applying it, and redoing
 * them (docs/journal.md, "Late ops"). Ops logged before this version have none: they are never
 * undone (a late op older than them is refused with a message).
 */
import type { Migration } from './index.js'

export const undo: Migration = {
  version: 2,
  description: 'undo records of ops (late ops from other devices)',
  sql: 'ALTER TABLE ops ADD COLUMN undo TEXT;'
}
