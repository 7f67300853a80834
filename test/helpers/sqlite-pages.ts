/**
 * Damages one b-tree page of a table in a real SQLite file, as a failing disk would: the page's
 * cell count is halved, so the rows in the other half vanish without any read error (what made
 * names answer "not found" silently in issue 12). The page is found from `sqlite_schema.rootpage`
 * and followed down the b-tree by page-size offsets. Call on a closed database (no -wal).
 */
import { readFile, writeFile } from 'node:fs/promises'
import sqlite3 from 'sqlite3'

export interface DamagedPage {
  /** 1-based page number. */
  page: number
  cellsBefore: number
  cellsAfter: number
}

async function pageInfo (dbPath: string, table: string): Promise<{ root: number, pageSize: number }> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d: sqlite3.Database = new sqlite3.Database(dbPath, sqlite3.OPEN_READONLY, (err) => { if (err != null) reject(err); else resolve(d) })
  })
  const get = async <T>(sql: string): Promise<T> => await new Promise((resolve, reject) => { db.get(sql, (err: Error | null, row: T) => { if (err != null) reject(err); else resolve(row) }) })
  try {
    const { rootpage } = await get<{ rootpage: number }>(`SELECT rootpage FROM sqlite_schema WHERE type='table' AND name='${table}'`)
    const { page_size: pageSize } = await get<{ page_size: number }>('PRAGMA page_size')
    return { root: rootpage, pageSize }
  } finally {
    await new Promise<void>((resolve) => { db.close(() => { resolve() }) })
  }
}

/** Halves the cell count of a leaf page of `table` (the middle child at each level). */
export async function damageTablePage (dbPath: string, table: string): Promise<DamagedPage> {
  const { root, pageSize } = await pageInfo(dbPath, table)
  const bytes = await readFile(dbPath)
  let page = root
  for (;;) {
    const at = (page - 1) * pageSize + (page === 1 ? 100 : 0)
    const type = bytes[at]
    const cells = bytes.readUInt16BE(at + 3)
    if (type === 0x0d) {
      const after = Math.floor(cells / 2)
      bytes.writeUInt16BE(after, at + 3)
      await writeFile(dbPath, bytes)
      return { page, cellsBefore: cells, cellsAfter: after }
    }
    if (type !== 0x05) throw new Error(`page ${page} of ${dbPath} is not a table b-tree page (type ${type})`)
    // Interior table page: 12-byte header, then cell pointers; a cell starts with its child's page.
    const ptr = bytes.readUInt16BE(at + 12 + 2 * Math.floor(cells / 2))
    page = bytes.readUInt32BE((page - 1) * pageSize + ptr)
  }
}
