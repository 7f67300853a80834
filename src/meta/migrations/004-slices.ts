/**
 * Schema version 4: a stripe's slices (small overwrites laid over it, docs/vfs.md "Small
 * overwrites: slices"), as the JSON of its `slices` list; NULL when it has none.
 */
import type { Migration } from './index.js'

export const slices: Migration = {
  version: 4,
  description: 'slices of stripes (small overwrites laid over a stored stripe)',
  sql: 'ALTER TABLE stripes ADD COLUMN slices TEXT'
}
