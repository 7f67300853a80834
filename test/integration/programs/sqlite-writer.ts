/**
 * One SQLite writer as an application would run it (node-sqlite3, busy_timeout 30 s, its own
 * process): `node sqlite-writer.js DB MODE NAME COUNT` sets journal_mode MODE and runs COUNT
 * write transactions (BEGIN IMMEDIATE; INSERT; COMMIT), then prints one JSON line with the mean
 * and the longest time per transaction (the longest includes waiting for the other writer). Exits non-zero with the SQLite error ("database is locked") on failure.
 */
import sqlite3 from 'sqlite3'

const [dbPath, mode, name, countText] = process.argv.slice(2)
const count = Number(countText)

function run (db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => { db.run(sql, params, (err) => { if (err != null) reject(err); else resolve() }) })
}

async function main (): Promise<void> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d: sqlite3.Database = new sqlite3.Database(dbPath, (err) => { if (err != null) reject(err); else resolve(d) })
  })
  // What an application sets: a generous busy timeout, and the journal mode it wants.
  db.configure('busyTimeout', 30_000)
  await run(db, `PRAGMA journal_mode=${mode}`)
  await run(db, 'CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, writer TEXT NOT NULL, n INTEGER NOT NULL, pad TEXT NOT NULL)')
  const started = performance.now()
  let worst = 0
  for (let i = 0; i < count; i++) {
    const began = performance.now()
    await run(db, 'BEGIN IMMEDIATE')
    await run(db, 'INSERT INTO t(writer, n, pad) VALUES(?, ?, ?)', [name, i, 'x'.repeat(200)])
    await run(db, 'COMMIT')
    worst = Math.max(worst, performance.now() - began)
  }
  const ms = performance.now() - started
  const perTxMs = count > 0 ? ms / count : 0
  await new Promise<void>((resolve, reject) => { db.close((err) => { if (err != null) reject(err); else resolve() }) })
  process.stdout.write(`${JSON.stringify({ name, count, ms: Math.round(ms), perTxMs: Math.round(perTxMs * 10) / 10, worstTxMs: Math.round(worst) })}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`sqlite writer ${name} on ${dbPath} (${mode}): ${err instanceof Error ? err.message : String(err)} after ${Math.round(performance.now())} ms of its life\n`)
  process.exit(1)
})
