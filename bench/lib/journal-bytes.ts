/**
 * Bytes of journal per op, before and after compaction: a fresh signed journal of one device
 * writes `ops` create ops (100 directories), then its files are measured after VACUUM (so free
 * pages do not count), once as written and once after compactUndo dropped the undo records that no
 * late op can need (a lone device needs none).
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sqlite3 from 'sqlite3'
import { createMetaStore, ROOT_INO } from '../../src/meta/index.js'
import { sign } from 'node:crypto'

async function vacuumedSize (path: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const db = new sqlite3.Database(path, (err) => {
      if (err != null) { reject(err); return }
      db.exec('PRAGMA wal_checkpoint(TRUNCATE); VACUUM;', (e) => { db.close(() => { if (e != null) reject(e); else resolve() }) })
    })
  })
  let bytes = 0
  for (const f of [path, `${path}-wal`]) bytes += await stat(f).then(s => s.size, () => 0)
  return bytes
}

export async function journalBytes (ops: number): Promise<{ before: number, after: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-bench-journal-bytes-'))
  const path = join(dir, 'journal.db')
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'jwk' }).x != null ? Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url') : [])
  const init = { path, deviceId: 'bench-bytes', sign: (b: Uint8Array) => new Uint8Array(sign(null, b, privateKey)), publicKey: raw }
  try {
    let meta = createMetaStore(init)
    await meta.start()
    const dirs = await Promise.all(Array.from({ length: 100 }, async (_, i) => await meta.create(ROOT_INO, `d${i}`, { type: 'dir', mode: 0o755, uid: 0, gid: 0 })))
    for (let i = 0; i < ops - 100; i += 512) {
      const n = Math.min(512, ops - 100 - i)
      await Promise.all(Array.from({ length: n }, async (_, j) => await meta.create(dirs[(i + j) % 100].ino, `file-${i + j}`, { type: 'file', mode: 0o644, uid: 1000, gid: 1000 })))
    }
    await meta.stop()
    const before = await vacuumedSize(path)
    meta = createMetaStore(init)
    await meta.start()
    await meta.compactUndo()
    await meta.stop()
    const after = await vacuumedSize(path)
    return { before, after }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
