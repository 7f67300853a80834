/**
 * One group commit: the ops of every caller that arrived while the previous commit was in flight,
 * sent to SQLite as one transaction in one `exec`. Per-op statements keep their order; inodes,
 * entries and xattrs are written once per batch with their final value, so sixteen creates in one
 * directory update that directory's row once. The op rows, the inodes and the entries a batch
 * writes go in one statement each, their values in JSON texts read by `json_each` (an op's body
 * and undo record, JSON texts themselves, bound apart and named by slot): SQLite
 * then compiles three statements per batch instead of three per op (a remote create cost ~56 µs of
 * SQLite per op as single statements, ~39 µs so: docs/journal.md). The JSON texts are bound as
 * parameters (sql.ts `BoundJson`), not quoted into the SQL.
 */
import { ABSENT, type Cached } from './cache.js'
import type { Counters } from './context.js'
import type { ApplyResult } from './apply.js'
import type { RedoPosition } from './redo.js'
import type { MergedOp } from './commit-failure.js'
import {
  dentriesUpsertSql, dentryDeleteSql, dentryUpsertSql, inodeDeleteSql, inodesUpsertSql, inodeUpsertSql, type DentryRec, type InodeRec
} from './records.js'
import { BOUND_JSON_TABLE, BoundJson, sqlBlob, sqlText } from './sql.js'
import type { StripeRef } from './types.js'

/** A local op's row, sealed with its batch (an early answer does not wait for it): signed if it is a seal. */
export interface UnsignedRow {
  author: string
  seq: number
  hlc: bigint
  kind: string
  /** The signed text (the op's JSON). */
  text: string
  /** The op's undo record (undo.ts). */
  undo: string
}

/** An op row whose signature is known when it is applied: another device's op, or an op of an unsigned journal (none). */
export interface SignedRow extends UnsignedRow {
  sig: Uint8Array | undefined
}

export interface Waiter {
  resolve: (result: ApplyResult) => void
  reject: (err: unknown) => void
  /** Answered before its commit (from the redo log). */
  answered?: boolean
}

/** A batch's transaction: its statements (without BEGIN/COMMIT) and the JSON texts they read (sql.ts `BoundJson`). */
export interface BatchSql {
  stmts: string[]
  bound: readonly string[]
}

export class Batch {
  /** Increasing per writer: redo segments remember the last batch with an op in them. */
  readonly id: number
  readonly waiters: Array<{ waiter: Waiter, result: ApplyResult }> = []
  /** Op rows and statements in op order; a local op's row is signed when the batch is sealed. */
  readonly stmts: Array<string | UnsignedRow | SignedRow> = []
  /**
   * Final value of every key changed in this batch (ABSENT = deleted). Until the batch is committed,
   * this is also the writer's overlay (what readers and later ops see before the cache has it).
   */
  get changes (): Map<string, Cached> { return this.#changes }
  #changes = new Map<string, Cached>()
  /** The stripe and xattr keys among `changes`, by inode (range reads of the view scan these). */
  readonly keysByIno = new Map<number, Set<string>>()
  /** Inodes created in this batch. */
  readonly created: number[] = []
  /** Author → last seq, for authors whose ops are in this batch. */
  readonly lastSeq = new Map<string, number>()
  /** Counters after this batch (set when it is sealed). */
  counters?: Counters
  /** A caller waits for this batch's commit: commit it as soon as the previous one is done. */
  urgent = false
  /** Where this batch's first op went in the redo log (rolled back to on a failed commit). */
  redoStart?: RedoPosition
  /** Ops merges applied or redid in this batch (a failed commit names the one at fault: commit-failure.ts). */
  readonly merged: MergedOp[] = []
  /**
   * The signatures of the local ops that are seals (writer.ts `#seal`), once sealed; undefined in
   * an unsigned journal. The op feed hands the local ops out after the commit.
   */
  sigs?: ReadonlyMap<UnsignedRow, Uint8Array>
  /** `bodyHash` of this device's last op in this batch (the `prev` of the op after it). */
  lastPrev?: string

  constructor (id = 0) {
    this.id = id
  }

  /**
   * Takes `changes` (an applied task's staged changes, which nothing changes any more) as this
   * batch's while it has none: the map itself, not a copy of each key (a merge stages thousands).
   */
  adopt (changes: Map<string, Cached>): void {
    if (this.#changes.size === 0) this.#changes = changes
    else for (const [k, v] of changes) this.#changes.set(k, v)
  }

  /** Waiters answered before the commit (their ops were in the redo log). */
  get answered (): number {
    let n = 0
    for (const { waiter } of this.waiters) if (waiter.answered === true) n++
    return n
  }
  #onDone: Array<() => void> | undefined = []

  /** Calls `fn` once this batch has committed or failed (at once if it already has). */
  onDone (fn: () => void): void {
    if (this.#onDone == null) fn()
    else this.#onDone.push(fn)
  }

  /** Marks the batch done (committed or failed) and calls the onDone listeners. */
  settle (): void {
    const fns = this.#onDone
    this.#onDone = undefined
    for (const fn of fns ?? []) fn()
  }

  get size (): number { return this.waiters.length }

  /** True when nothing would be written (only no-op calls waiting for earlier state to commit). */
  get empty (): boolean { return this.stmts.length === 0 && this.changes.size === 0 }

  /** The local op rows (to be sealed), in order. */
  unsigned (): UnsignedRow[] {
    return this.stmts.filter((s): s is UnsignedRow => typeof s !== 'string' && !('sig' in s))
  }

  /**
   * The whole transaction body (without BEGIN/COMMIT) as statements to join, and the JSON texts
   * they read, for Db.execBatch; `sigs` has the signatures of the local rows that are seals.
   */
  toSql (counters: Counters, sigs?: ReadonlyMap<UnsignedRow, Uint8Array>): BatchSql {
    this.sigs = sigs
    const bound = new BoundJson()
    const updates: string[] = []
    const rows: OpRowValues[] = []
    for (const s of this.stmts) {
      if (typeof s === 'string') updates.push(s)
      else rows.push(opRowValues(s, 'sig' in s ? s.sig : sigs?.get(s), bound))
    }
    // The op rows first: a redone op's undo update may name an op logged in this same batch.
    const parts: string[] = rows.length > 0 ? [opRowsSql(rows, bound), ...updates] : updates
    // Removals and rare kinds one by one, then every inode and entry written in one statement each
    // (one final value per key: no removal here is of a key written there).
    const inodes: InodeRec[] = []
    const dentries: DentryRec[] = []
    for (const [k, v] of this.changes) {
      const c = k.charCodeAt(0)
      if (c === 0x69 && v !== ABSENT) inodes.push(v as InodeRec)
      else if (c === 0x64 && v !== ABSENT) dentries.push(v as DentryRec)
      else {
        const sql = changeSql(k, v)
        if (sql !== '') parts.push(sql)
      }
    }
    if (inodes.length > 0) parts.push(inodesUpsertSql(inodes, bound))
    if (dentries.length > 0) parts.push(dentriesUpsertSql(dentries, bound))
    parts.push(`UPDATE state SET next_ino=${counters.nextIno},next_cookie=${counters.nextCookie},files=${counters.files},dirs=${counters.dirs},bytes=${counters.bytes},ops=${counters.ops} WHERE id=1;`)
    return { stmts: parts, bound: bound.texts }
  }
}

/** The statement that writes one key's final value. */
function changeSql (k: string, v: Cached): string {
  switch (k.charCodeAt(0)) {
    case 0x69: // i<ino>
      return v === ABSENT ? inodeDeleteSql(Number(k.slice(1))) : inodeUpsertSql(v as InodeRec)
    case 0x64: { // d<parent>/<name>
      if (v !== ABSENT) return dentryUpsertSql(v as DentryRec)
      const slash = k.indexOf('/')
      return dentryDeleteSql(Number(k.slice(1, slash)), k.slice(slash + 1))
    }
    case 0x78: { // x<ino>/<name>
      const slash = k.indexOf('/')
      const ino = Number(k.slice(1, slash))
      const name = sqlText(k.slice(slash + 1))
      if (v === ABSENT) return `DELETE FROM xattrs WHERE ino=${ino} AND name=${name};`
      return `INSERT OR REPLACE INTO xattrs(ino,name,value) VALUES(${ino},${name},${sqlBlob(v as Uint8Array)});`
    }
    case 0x73: { // s<ino>/<idx>
      const slash = k.indexOf('/')
      const ino = Number(k.slice(1, slash))
      if (v === ABSENT) return `DELETE FROM stripes WHERE ino=${ino} AND idx=${Number(k.slice(slash + 1))};`
      const st = v as StripeRef
      const slices = st.slices != null && st.slices.length > 0 ? sqlText(JSON.stringify(st.slices)) : 'NULL'
      return `INSERT OR REPLACE INTO stripes(ino,idx,length,id,k,n,codec,fragments,holders,slices) VALUES(${ino},${st.index},${st.length},${sqlText(st.id)},${st.k},${st.n},${st.codecId},${sqlText(JSON.stringify(st.fragments))},${sqlText(JSON.stringify(st.holders))},${slices});`
    }
    case 0x41: // A<node>: a node merged into another's inode
      return v === ABSENT
        ? `DELETE FROM node_aliases WHERE node=${sqlText(k.slice(1))};`
        : `INSERT OR REPLACE INTO node_aliases(node,ino) VALUES(${sqlText(k.slice(1))},${v as number});`
    case 0x52: // R<node>: where a removed directory was
      return v === ABSENT
        ? `DELETE FROM removed_dirs WHERE node=${sqlText(k.slice(1))};`
        : `INSERT OR REPLACE INTO removed_dirs(node,record) VALUES(${sqlText(k.slice(1))},${sqlText(JSON.stringify(v))});`
    case 0x61: // a<device>: an admitted device's key
      return v === ABSENT
        ? `DELETE FROM authors WHERE author=${sqlText(k.slice(1))};`
        : `INSERT OR REPLACE INTO authors(author,public_key) VALUES(${sqlText(k.slice(1))},${sqlBlob(v as Uint8Array)});`
    default: // n<node>: derived from the inodes table; N<ino>: a name hint
      return ''
  }
}

/**
 * One op row as `opRowsSql` reads it: author, seq, hlc (decimal), kind, the slot of its body,
 * signature (hex or null), the slot of its undo record. The body and the undo record are JSON
 * texts already: each is bound as it is, in a slot of its own (`BoundJson.text`), rather than
 * escaped into the rows' JSON text, built in parts and flattened again to be bound.
 */
type OpRowValues = [string, number, string, string, number, string | null, number]

function opRowValues (r: UnsignedRow, sig: Uint8Array | undefined, bound: BoundJson): OpRowValues {
  return [r.author, r.seq, r.hlc.toString(), r.kind, bound.text(r.text), sig == null ? null : Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('hex'), bound.text(r.undo)]
}

/** The rows of many ops in the log: one statement, the values in bound JSON texts, bodies and undo records by slot. */
function opRowsSql (rows: OpRowValues[], bound: BoundJson): string {
  const slot = (i: number): string => `(SELECT t.text FROM ${BOUND_JSON_TABLE} t WHERE t.slot=value->>${i})`
  return `INSERT INTO ops(author,seq,hlc,kind,body,sig,undo) SELECT value->>0,value->>1,CAST(value->>2 AS INTEGER),value->>3,${slot(4)},unhex(value->>5),${slot(6)} FROM ${bound.rows(rows)};`
}

/** A redone op's new undo record (a late op was applied before it). */
export function undoUpdateSql (author: string, seq: number, undo: string): string {
  return `UPDATE ops SET undo=${sqlText(undo)} WHERE author=${sqlText(author)} AND seq=${seq};`
}
