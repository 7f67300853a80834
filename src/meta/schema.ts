/**
 * Opening a journal: connection settings and schema migrations (src/meta/migrations/).
 */
import { ReadOnlyError } from '../errors.js'
import { journalError, type Db } from './db.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.js'

/**
 * Settings of the writer connection. WAL with synchronous=NORMAL: a commit is a write() into the
 * -wal file (the kernel keeps it if the process dies); `sync()` fdatasyncs that file for power loss,
 * and SQLite itself syncs the WAL before a checkpoint and the database after one.
 */
export async function configureWriter (db: Db, memory: boolean, syncEveryCommit = false): Promise<void> {
  await db.exec(memory
    ? 'PRAGMA temp_store=MEMORY;PRAGMA foreign_keys=OFF;'
    : `PRAGMA journal_mode=WAL;PRAGMA synchronous=${syncEveryCommit ? 'FULL' : 'NORMAL'};PRAGMA temp_store=MEMORY;PRAGMA foreign_keys=OFF;PRAGMA busy_timeout=10000;PRAGMA cache_size=-16384;`)
}

/** Settings of the reader connection (file databases only). */
export async function configureReader (db: Db): Promise<void> {
  await db.exec('PRAGMA query_only=1;PRAGMA busy_timeout=10000;PRAGMA cache_size=-16384;')
}

/** Brings the schema up to SCHEMA_VERSION; returns the version found before. */
export async function migrate (db: Db): Promise<number> {
  try {
    await db.exec('CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL, applied_at TEXT NOT NULL)')
    const row = await db.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')
    const found = row?.v ?? 0
    if (found > SCHEMA_VERSION) {
      throw new ReadOnlyError(`metadata journal ${db.path} has schema version ${found}, newer than this PALM (${SCHEMA_VERSION}): upgrade PALM to open it`, { details: { path: db.path } })
    }
    for (const m of MIGRATIONS) {
      if (m.version <= found) continue
      await db.execBatch(`${m.sql};INSERT INTO schema_version(version, applied_at) VALUES(${m.version}, datetime('now'));`)
    }
    return found
  } catch (err) {
    throw journalError(err, db.path, 'migrating its schema')
  }
}

/** Caps the database at `bytes` (rounded up to whole pages): growing past it fails with SQLITE_FULL. */
export async function limitSize (db: Db, bytes: number): Promise<void> {
  const row = await db.get<{ page_size: number }>('PRAGMA page_size')
  const pages = Math.ceil(bytes / (row?.page_size ?? 4096))
  await db.exec(`PRAGMA max_page_count=${Math.max(1, pages)}`)
}
