/**
 * Schema version 3: where each removed directory was (`removed_dirs`), so that an op of another
 * device that had not seen the removal (a create, link or move into it) brings it back there
 * instead of being lost (docs/journal.md, "Conflicts"; src/meta/revive.ts).
 */
import type { Migration } from './index.js'

export const removedDirs: Migration = {
  version: 3,
  description: 'where removed directories were (ops of other devices made in them bring them back)',
  sql: 'CREATE TABLE removed_dirs(node TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;'
}
