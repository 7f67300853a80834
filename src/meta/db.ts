/**
 * A promise face on one node-sqlite3 connection. Every call is one threadpool round trip, so the
 * writer sends a whole group commit as one `execBatch` string. SQLite error codes become PalmErrors
 * that name the journal file and say what to do.
 */
import sqlite3 from 'sqlite3'
import { BOUND_JSON_TABLE } from './sql.js'
import { IntegrityError, NoSpaceError, PalmError, ReadOnlyError, type PalmErrorOptions } from '../errors.js'

type Params = Array<string | number | null | Uint8Array>

/** The most texts one statement binds (a power of two below SQLite's 32,766 parameters). */
const BIND_SLOTS_PER_STATEMENT = 8192

/** Maps a node-sqlite3 error to a PalmError naming `path` and what was being done. */
export function journalError (err: unknown, path: string, doing: string): PalmError {
  if (err instanceof PalmError) return err
  const code = typeof err === 'object' && err != null && 'code' in err ? String(err.code) : ''
  const msg = err instanceof Error ? err.message : String(err)
  const opts: PalmErrorOptions = { cause: err, details: { path, sqlite: code } }
  if (code === 'SQLITE_FULL' || msg.includes('SQLITE_FULL')) {
    return new NoSpaceError(`metadata journal ${path} is full while ${doing}: free disk space on its file system and retry`, opts)
  }
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code === 'SQLITE_CANTOPEN') {
    return new ReadOnlyError(`metadata journal ${path} cannot be written while ${doing} (${msg}): check the file's permissions and its disk`, opts)
  }
  return new IntegrityError(`metadata journal ${path} failed while ${doing} (${msg}): check the disk; \`palm fsck\` checks the journal`, opts)
}

export class Db {
  readonly path: string
  readonly #db: sqlite3.Database
  readonly #stmts = new Map<string, sqlite3.Statement>()
  /** The statements that bind a commit's texts, by their first slot and number of slots. */
  readonly #bindStmts = new Map<string, sqlite3.Statement>()
  /** BOUND_JSON_TABLE exists on this connection. */
  #boundTable = false

  private constructor (path: string, db: sqlite3.Database) {
    this.path = path
    this.#db = db
  }

  /** Opens (creating if missing) the database at `path` (or ':memory:'). */
  static async open (path: string, readOnly = false): Promise<Db> {
    const mode = readOnly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE
    return await new Promise((resolve, reject) => {
      const db: sqlite3.Database = new sqlite3.Database(path, mode, (err) => {
        if (err != null) reject(journalError(err, path, 'opening it'))
        else resolve(new Db(path, db))
      })
    })
  }

  async exec (sql: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#db.exec(sql, (err) => { if (err != null) reject(err); else resolve() })
    })
  }

  /**
   * Runs `BEGIN; sql COMMIT;` as one exec. On failure the ROLLBACK is issued from inside the
   * callback, before node-sqlite3 runs any statement queued behind the batch, so no reader on this
   * connection ever sees half a batch. `bound` are the JSON texts the statements read from
   * BOUND_JSON_TABLE by slot (sql.ts `BoundJson`): stored there first by one prepared statement
   * (outside the transaction: the table is this connection's own, and only the next commit of
   * this connection reads or replaces its rows), and deleted by the transaction.
   */
  async execBatch (sql: string | string[], bound: readonly string[] = []): Promise<void> {
    if (bound.length > 0) await this.#bindJson(bound)
    const end = bound.length > 0 ? `DELETE FROM ${BOUND_JSON_TABLE};COMMIT;` : 'COMMIT;'
    // Statements given apart are joined once, with BEGIN and COMMIT.
    const text = typeof sql === 'string' ? `BEGIN;${sql}${end}` : ['BEGIN;', ...sql, end].join('')
    await new Promise<void>((resolve, reject) => {
      this.#db.exec(text, (err) => {
        if (err == null) { resolve(); return }
        this.#db.exec('ROLLBACK;', () => { reject(err) })
      })
    })
  }

  /**
   * Stores `texts` as rows 0… of BOUND_JSON_TABLE (made on first use), replacing the last commit's.
   * One statement per power of two of texts (the rest of its rows are empty arrays that no statement
   * reads), so that a few prepared statements serve every commit; a commit of more than
   * BIND_SLOTS_PER_STATEMENT texts binds them with one such statement per part.
   */
  async #bindJson (texts: readonly string[]): Promise<void> {
    if (!this.#boundTable) {
      await this.exec(`CREATE TEMP TABLE IF NOT EXISTS ${BOUND_JSON_TABLE.slice('temp.'.length)}(slot INTEGER PRIMARY KEY, text TEXT NOT NULL)`)
      this.#boundTable = true
    }
    // SQLite takes at most 32,766 parameters per statement: a large commit binds in parts.
    for (let base = 0; base < texts.length; base += BIND_SLOTS_PER_STATEMENT) {
      const part = base === 0 && texts.length <= BIND_SLOTS_PER_STATEMENT ? texts : texts.slice(base, base + BIND_SLOTS_PER_STATEMENT)
      const rows = 2 ** Math.ceil(Math.log2(part.length))
      // Found by its slots, not its text: a commit binds thousands (each op's body and undo record).
      let stmt = this.#bindStmts.get(`${base}+${rows}`)
      if (stmt == null) {
        stmt = this.#prepared(`INSERT OR REPLACE INTO ${BOUND_JSON_TABLE}(slot,text) VALUES${Array.from({ length: rows }, (_, i) => `(${base + i},?)`).join(',')}`)
        this.#bindStmts.set(`${base}+${rows}`, stmt)
      }
      const params = rows === part.length ? part : [...part, ...Array<string>(rows - part.length).fill('[]')]
      await new Promise<void>((resolve, reject) => {
        stmt.run(params, (err: Error | null) => { if (err != null) reject(err); else resolve() })
      })
    }
  }

  /**
   * One row or undefined. Runs as `all`: node-sqlite3's `get` leaves the statement un-reset, which
   * would hold a read transaction (an old WAL snapshot) open on this connection.
   */
  async get<T> (sql: string, params: Params = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0]
  }

  /** All rows; the statement is prepared once and reused. Bound the result with LIMIT. */
  async all<T> (sql: string, params: Params = []): Promise<T[]> {
    const stmt = this.#prepared(sql)
    return await new Promise((resolve, reject) => {
      stmt.all(params, (err: Error | null, rows: T[]) => { if (err != null) reject(err); else resolve(rows) })
    })
  }

  async close (): Promise<void> {
    for (const s of this.#stmts.values()) await new Promise<void>((resolve) => { s.finalize(() => { resolve() }) })
    this.#stmts.clear()
    this.#bindStmts.clear()
    await new Promise<void>((resolve, reject) => {
      this.#db.close((err) => { if (err != null) reject(journalError(err, this.path, 'closing it')); else resolve() })
    })
  }

  #prepared (sql: string): sqlite3.Statement {
    let stmt = this.#stmts.get(sql)
    if (stmt == null) {
      stmt = this.#db.prepare(sql)
      // A prepare error is reported to the first call's callback as well; swallow the event form.
      stmt.on('error', () => {})
      this.#stmts.set(sql, stmt)
    }
    return stmt
  }
}
