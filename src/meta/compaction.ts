/**
 * Compaction of undo records (docs/journal.md, "Compaction"). An op's undo record is needed only
 * while an op older than it may still arrive from another device. Once every device is known to be
 * past a point (the daemon computes it from the devices' version vectors), no late op can be
 * older than it, and the undo records of the ops before it are dropped. Until then the fragments
 * those records name (versions a late op could bring back) are kept by GC.
 */
import type { Db } from './db.js'
import { PAGE_ROWS } from './constants.js'
import { decodeUndo } from './undo.js'
import type { StripeRef } from './types.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'

/** Fragment CIDs named by stripe values in undo records, paged by the ops key. */
export async function * undoFragments (db: Db): AsyncGenerator<string> {
  let last: [string, number] = ['', 0]
  for (;;) {
    const rows = await db.all<{ author: string, seq: number, undo: string }>(
      'SELECT author,seq,undo FROM ops WHERE undo IS NOT NULL AND (author,seq)>(?,?) ORDER BY author,seq LIMIT ?', [...last, PAGE_ROWS])
    for (const r of rows) {
      // Quick filter: most undo records hold no stripe.
      if (!r.undo.includes('"s')) continue
      for (const [k, v] of decodeUndo(r.undo).priors) {
        if (k.charCodeAt(0) === 0x73 && typeof v === 'object' && v != null) yield * (v as StripeRef).fragments
      }
    }
    if (rows.length < PAGE_ROWS) return
    last = [rows[rows.length - 1].author, rows[rows.length - 1].seq]
  }
}

/** Drops undo records of ops older than `beforeHlc`, a page at a time (short transactions). */
export async function dropUndo (db: Db, beforeHlc: bigint, options: AbortOptions = {}): Promise<number> {
  let dropped = 0
  for (;;) {
    throwIfAborted(options.signal, 'compacting undo records')
    const rows = await db.all<{ n: number }>(
      `UPDATE ops SET undo=NULL WHERE (author,seq) IN (SELECT author,seq FROM ops WHERE undo IS NOT NULL AND hlc < CAST(? AS INTEGER) LIMIT ${PAGE_ROWS}) RETURNING 1 AS n`, [beforeHlc.toString()])
    dropped += rows.length
    if (rows.length < PAGE_ROWS) return dropped
  }
}

/**
 * The point no op still to arrive can be older than: the oldest, over every other admitted device,
 * of the newest op of that device held here (a device's clock never goes back, so its ops not yet
 * received are newer). 0 while an admitted device has no op here; everything when this device is
 * alone. A device that never comes back holds the point where it was until it is removed.
 */
export async function stablePoint (db: Db, self: string): Promise<bigint> {
  const rows = await db.all<{ author: string, last: string | null }>(
    'SELECT a.author AS author, (SELECT CAST(max(o.hlc) AS TEXT) FROM ops o WHERE o.author=a.author) AS last FROM authors a WHERE a.author != ?', [self])
  let point: bigint | undefined
  for (const r of rows) {
    const last = r.last == null ? 0n : BigInt(r.last)
    if (point === undefined || last < point) point = last
  }
  if (point !== undefined) return point
  const own = await db.get<{ last: string | null }>('SELECT CAST(max(hlc) AS TEXT) AS last FROM ops')
  return own?.last == null ? 0n : BigInt(own.last) + 1n
}
