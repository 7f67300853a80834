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
import { partsOf } from './slices.js'
import type { StripeRef } from './types.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'

/** Fragment CIDs named by stripe values in undo records of ops at or after `since`, paged by the ops key. */
export async function * undoFragments (db: Db, since = 0n): AsyncGenerator<string> {
  let last: [string, number] = ['', 0]
  for (;;) {
    const rows = await db.all<{ author: string, seq: number, undo: string }>(
      'SELECT author,seq,undo FROM ops WHERE undo IS NOT NULL AND hlc >= CAST(? AS INTEGER) AND (author,seq)>(?,?) ORDER BY author,seq LIMIT ?', [since.toString(), ...last, PAGE_ROWS])
    for (const r of rows) {
      // Quick filter: most undo records hold no stripe.
      if (!r.undo.includes('"s')) continue
      for (const [k, v] of decodeUndo(r.undo).priors) {
        if (k.charCodeAt(0) === 0x73 && typeof v === 'object' && v != null) for (const part of partsOf(v as StripeRef)) yield * part.fragments
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
 * of what that device is known to be past. A device's hybrid clock never goes back and follows
 * every op it holds, so its ops not received here yet are newer than both its own newest op held
 * here and, when its version vector is known (`vectors`, from replication), the newest op it holds.
 * 0 while an admitted device has no op here and no known vector; everything when this device is
 * alone. A device that never comes back holds the point where it was until it is removed (a
 * removed device's tombstone is not a 32-byte key, so it no longer counts). Nor past any op another
 * device is known (`vectors`) to hold and this one lacks, whatever its author.
 */
export async function stablePoint (db: Db, self: string, vectors: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map()): Promise<bigint> {
  const rows = await db.all<{ author: string, last: string | null }>(
    'SELECT a.author AS author, (SELECT CAST(max(o.hlc) AS TEXT) FROM ops o WHERE o.author=a.author) AS last FROM authors a WHERE a.author != ? AND length(a.public_key) = 32', [self])
  let point: bigint | undefined
  for (const r of rows) {
    let past = r.last == null ? 0n : BigInt(r.last)
    // Its vector bounds its future ops only; ops it wrote that are not here yet may be older than
    // what it holds. So it counts only when everything that device wrote is here already.
    const vector = vectors.get(r.author)
    const own = vector?.get(r.author) ?? 0
    const held = own === 0 ? 0 : (await db.get<{ seq: number }>('SELECT max(seq) AS seq FROM ops WHERE author=?', [r.author]))?.seq ?? 0
    for (const [author, seq] of vector != null && own <= held ? vector : []) {
      // The newest op of `author` that device holds (or, if it holds more than this one, this one's newest).
      const row = await db.get<{ hlc: string }>('SELECT CAST(hlc AS TEXT) AS hlc FROM ops WHERE author=? AND seq<=? ORDER BY seq DESC LIMIT 1', [author, seq])
      if (row != null && BigInt(row.hlc) > past) past = BigInt(row.hlc)
    }
    if (point === undefined || past < point) point = past
  }
  // Ops another device holds and this one lacks, of any author (one not admitted here yet too: a
  // joiner meets a member before the founder, whose old ops that member already holds), arrive
  // later, newer than this device's newest op of their author only: none of it older may go.
  for (const [device, vector] of vectors) {
    if (device === self) continue
    for (const [author, seq] of vector) {
      const held = await db.get<{ seq: number | null, hlc: string | null, key: number | null }>(
        'SELECT max(seq) AS seq, CAST(max(hlc) AS TEXT) AS hlc, (SELECT length(public_key) FROM authors WHERE author=?1) AS key FROM ops WHERE author=?1', [author])
      // A removed author's ops are refused here: they never arrive.
      if (seq <= (held?.seq ?? 0) || (held?.key != null && held.key !== 32)) continue
      const bound = held?.hlc == null ? 0n : BigInt(held.hlc)
      if (point === undefined || bound < point) point = bound
    }
  }
  if (point !== undefined) return point
  const own = await db.get<{ last: string | null }>('SELECT CAST(max(hlc) AS TEXT) AS last FROM ops')
  return own?.last == null ? 0n : BigInt(own.last) + 1n
}
