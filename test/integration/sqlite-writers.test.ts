/**
 * Two processes writing one SQLite database on the mount (issue 12, defect 5): each runs 200 write
 * transactions with the settings an application uses (busy_timeout 30 s), in rollback ('delete')
 * and 'wal' journal modes. Both must finish (no "database is locked") and the database must pass
 * `PRAGMA integrity_check`. WAL mode needs mmap of the -shm file to work on the mount.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import sqlite3 from 'sqlite3'
import { REPO, createPalmHome, skipWithoutFuse, startMount } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'

const WRITER = join(REPO, 'dist', 'test', 'integration', 'programs', 'sqlite-writer.js')
const TRANSACTIONS = 200

interface Result { code: number | null, stdout: string, stderr: string }

async function writer (db: string, mode: string, name: string, transactions = TRANSACTIONS): Promise<Result> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, db, mode, name, String(transactions)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

async function query (path: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d: sqlite3.Database = new sqlite3.Database(path, (err) => { if (err != null) reject(err); else resolve(d) })
  })
  try {
    return await new Promise((resolve, reject) => { db.all(sql, (err, rows: Array<Record<string, unknown>>) => { if (err != null) reject(err); else resolve(rows) }) })
  } finally {
    await new Promise<void>((resolve) => { db.close(() => { resolve() }) })
  }
}

for (const mode of ['delete', 'wal']) {
  it(`two SQLite writers (${mode} journal) both finish on the mount, integrity ok`, { skip: skipWithoutFuse(), timeout: 15 * 60_000 }, async (t) => {
    const home = await createPalmHome(t)
    const work = await createTempDir(t, 'palm-sqlite-')
    const m = await startMount(t, home, { mountpoint: join(work, 'mnt') })
    const dir = join(m.mountpoint, 'app')
    await mkdir(dir)
    const db = join(dir, 'app.db')
    // The application made its database (journal mode, table) before its processes share it.
    const setup = await writer(db, mode, 'setup', 0)
    assert.equal(setup.code, 0, `setup: ${setup.stderr}`)
    const [a, b] = await Promise.all([writer(db, mode, 'a'), writer(db, mode, 'b')])
    assert.equal(a.code, 0, `writer a: ${a.stderr}`)
    assert.equal(b.code, 0, `writer b: ${b.stderr}`)
    t.diagnostic(`per transaction (${mode}): a ${a.stdout.trim()} b ${b.stdout.trim()}`)
    // Checked through the mount, by this (non-serving) process, like any application would.
    assert.deepEqual(await query(db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }])
    assert.deepEqual(await query(db, 'SELECT writer, count(*) AS n FROM t GROUP BY writer ORDER BY writer'), [{ writer: 'a', n: TRANSACTIONS }, { writer: 'b', n: TRANSACTIONS }])
    assert.equal(await m.stop(), 0)
  })
}
