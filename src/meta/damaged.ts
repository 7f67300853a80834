/**
 * Where damaged journal files go, and the notes that say what happened to them. Nothing found
 * damaged is ever deleted: a damaged redo segment or journal database is moved into `damaged/`
 * beside the journal (`<home>/damaged/` for a device), and a line is appended to
 * `damaged/journal-damage.log` saying what was found, what was recovered and what was not. The
 * notes are what `palm status` shows until the user has looked at them and removed the folder.
 */
import { appendFile, mkdir, open, readFile, rename } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** The folder damaged journal files are moved to. */
export function damagedDir (dbPath: string): string {
  return join(dirname(dbPath), 'damaged')
}

/** The notes file in it (one line per event, newest last). */
export function damageNotesPath (dbPath: string): string {
  return join(damagedDir(dbPath), 'journal-damage.log')
}

/** Most notes shown by status. */
const MAX_NOTES = 20

/**
 * Moves `file` into the damaged folder of the journal at `dbPath` under its own name plus the
 * time (never over an earlier copy) and returns the new path. A missing file returns undefined.
 */
export async function moveAside (file: string, dbPath: string, now = new Date()): Promise<string | undefined> {
  const dir = damagedDir(dbPath)
  await mkdir(dir, { recursive: true })
  const to = join(dir, `${basename(file)}.${now.toISOString().replace(/[:.]/g, '-')}`)
  try {
    await rename(file, to)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  await syncDir(dir)
  await syncDir(dirname(file))
  return to
}

/** Appends one note (a sentence without newlines) with the time, synced. */
export async function recordDamage (dbPath: string, note: string, now = new Date()): Promise<void> {
  await mkdir(damagedDir(dbPath), { recursive: true })
  const path = damageNotesPath(dbPath)
  await appendFile(path, `${now.toISOString()} ${note.replace(/\s*\n\s*/g, ' ')} (remove ${damagedDir(dbPath)} once checked: that clears this note)\n`)
  const fh = await open(path, 'r')
  try { await fh.datasync() } finally { await fh.close() }
}

/** The last notes recorded for the journal at `dbPath` ([] when none). */
export async function readDamageNotes (dbPath: string): Promise<string[]> {
  const text = await readFile(damageNotesPath(dbPath), 'utf8').catch(() => '')
  return text.split('\n').filter(l => l.trim() !== '').slice(-MAX_NOTES)
}

async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}
