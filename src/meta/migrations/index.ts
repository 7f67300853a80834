/**
 * Schema migrations, oldest first. A migration runs once, in its own transaction together with the
 * version bump; a database newer than this code is refused rather than guessed at.
 */
import { initial } from './001-initial.js'
import { undo } from './002-undo.js'
import { removedDirs } from './003-removed-dirs.js'
import { slices } from './004-slices.js'

export interface Migration {
  /** The schema version after this migration (1, 2, …). */
  version: number
  description: string
  /** Statements run by `exec` inside the migration's transaction. */
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [initial, undo, removedDirs, slices]

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version
