/**
 * The start-up check of a journal file: SQLite's `PRAGMA quick_check` (the b-trees, their pages and
 * records, in one pass over the file; not the indexes against their tables) before anything reads
 * or writes it. A damaged journal is refused: opened anyway it would answer "not found" for the
 * names on a damaged page, with no error (issue 12). The error says how to recover.
 */
import { JournalDamagedError } from '../errors.js'
import type { Db } from './db.js'

/** How long the check waits for a lock held by another process, ms (as the connections do). */
const BUSY_TIMEOUT_MS = 10_000

/** Messages of quick_check kept in the error. */
const MAX_MESSAGES = 5

/** SQLite result codes that mean the file is not a sound database. */
const DAMAGE_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB'])

/** The one-line remedy for a damaged journal. */
export function damagedJournalRemedy (path: string): string {
  return `run \`palm fsck --repair\` on this device to rebuild it from its signed op log (it keeps the damaged file in ${path.replace(/[^/]*$/, '')}damaged/), or replace it with a fresh copy from another device`
}

/** Throws JournalDamagedError unless `PRAGMA quick_check` of `db` says ok. */
export async function checkJournalFile (db: Db): Promise<void> {
  let messages: string[]
  try {
    // Before the connection is configured: wait for a writer of another process like reads do.
    await db.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`)
    const rows = await db.all<{ quick_check: string }>(`PRAGMA quick_check(${MAX_MESSAGES})`)
    // One problem per line, after a "*** in database main ***" heading: one line for people.
    messages = rows.flatMap(r => r.quick_check.split('\n')).map(m => m.trim()).filter(m => m !== '' && !m.startsWith('***'))
  } catch (err) {
    if (!isDamage(err)) throw err
    messages = [err instanceof Error ? err.message : String(err)]
  }
  if (messages.length === 1 && messages[0] === 'ok') return
  if (messages.length === 0) messages = ['quick_check failed']
  throw new JournalDamagedError(`metadata journal ${db.path} is damaged (${messages.join('; ')}): it was not opened; ${damagedJournalRemedy(db.path)}`, { details: { path: db.path, problems: messages } })
}

/** True for an error of SQLite that means damage (not a busy or missing file). */
export function isDamage (err: unknown): boolean {
  const code = typeof err === 'object' && err != null && 'code' in err ? String(err.code) : ''
  const msg = err instanceof Error ? err.message : ''
  return DAMAGE_CODES.has(code) || /SQLITE_CORRUPT|SQLITE_NOTADB|malformed/.test(msg)
}
