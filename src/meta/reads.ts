/**
 * Reads of the committed database (the reader connection for a file, the only connection for
 * ':memory:'). Every statement is prepared once; results are bounded by LIMIT or paged by key.
 */
import { ABSENT, type Cached } from './cache.js'
import type { Db } from './db.js'
import { decodeOp, type SignedOp } from './op.js'
import {
  dentryFromRow, inodeFromRow, INODE_COLUMNS, type DentryRec, type RemovedDirRec, type DentryRow, type InodeRec, type InodeRow
} from './records.js'
import { PAGE_ROWS } from './constants.js'
import type { MergeStep, OpKey } from './merge-plan.js'
import { decodeUndo } from './undo.js'
import type { FileType, StripeRef } from './types.js'

/** The committed value of one cache key (see view.ts `key`), or ABSENT. */
export async function fetchKey (db: Db, k: string): Promise<Cached> {
  switch (k.charCodeAt(0)) {
    case 0x69: { // i<ino>
      const row = await db.get<InodeRow>(`SELECT ${INODE_COLUMNS} FROM inodes WHERE ino=?`, [Number(k.slice(1))])
      return row == null ? ABSENT : inodeFromRow(row)
    }
    case 0x64: { // d<parent>/<name>
      const slash = k.indexOf('/')
      const row = await db.get<DentryRow>('SELECT parent,name,ino,type,cookie FROM dentries WHERE parent=? AND name=?', [Number(k.slice(1, slash)), k.slice(slash + 1)])
      return row == null ? ABSENT : dentryFromRow(row)
    }
    case 0x78: { // x<ino>/<name>
      const slash = k.indexOf('/')
      const row = await db.get<{ value: Buffer }>('SELECT value FROM xattrs WHERE ino=? AND name=?', [Number(k.slice(1, slash)), k.slice(slash + 1)])
      return row == null ? ABSENT : new Uint8Array(row.value)
    }
    case 0x73: { // s<ino>/<idx>
      const slash = k.indexOf('/')
      const row = await db.get<StripeRow>('SELECT ino,idx,length,id,k,n,codec,fragments,holders,slices FROM stripes WHERE ino=? AND idx=?', [Number(k.slice(1, slash)), Number(k.slice(slash + 1))])
      return row == null ? ABSENT : stripeFromRow(row)
    }
    case 0x61: { // a<device>
      const row = await db.get<{ public_key: Buffer }>('SELECT public_key FROM authors WHERE author=?', [k.slice(1)])
      return row == null ? ABSENT : new Uint8Array(row.public_key)
    }
    case 0x4e: { // N<ino>: one name of the inode (a hint)
      const row = await db.get<DentryRow>('SELECT parent,name,ino,type,cookie FROM dentries WHERE ino=? ORDER BY parent,name LIMIT 1', [Number(k.slice(1))])
      return row == null ? ABSENT : dentryFromRow(row)
    }
    case 0x52: { // R<node>: where a removed directory was
      const row = await db.get<{ record: string }>('SELECT record FROM removed_dirs WHERE node=?', [k.slice(1)])
      return row == null ? ABSENT : JSON.parse(row.record) as RemovedDirRec
    }
    case 0x6e: { // n<node>
      const row = await db.get<{ ino: number }>('SELECT ino FROM inodes WHERE node=? UNION ALL SELECT ino FROM node_aliases WHERE node=? LIMIT 1', [k.slice(1), k.slice(1)])
      return row == null ? ABSENT : row.ino
    }
    default:
      throw new Error(`unknown journal cache key ${k}`)
  }
}

/** Most keys of one kind read by one statement of `fetchKeys`. */
const FETCH_KEYS_CHUNK = 4096

/**
 * The committed values of many `i`, `d` and `n` keys, a few statements in all (one per kind and
 * 4,096 keys): what a merge's ops will read, loaded before they are applied (writer.ts). Keys of
 * other kinds are left out; keys not in the database are ABSENT.
 */
export async function fetchKeys (db: Db, keys: Iterable<string>): Promise<Map<string, Cached>> {
  const out = new Map<string, Cached>()
  const inos: number[] = []
  const entries: Array<[number, string]> = []
  const nodes: string[] = []
  for (const k of keys) {
    const c = k.charCodeAt(0)
    if (c === 0x69) inos.push(Number(k.slice(1)))
    else if (c === 0x64) {
      const slash = k.indexOf('/')
      entries.push([Number(k.slice(1, slash)), k.slice(slash + 1)])
    } else if (c === 0x6e) nodes.push(k.slice(1))
    else continue
    out.set(k, ABSENT)
  }
  for (let i = 0; i < inos.length; i += FETCH_KEYS_CHUNK) {
    const rows = await db.all<InodeRow>(`SELECT ${INODE_COLUMNS} FROM inodes WHERE ino IN (SELECT value FROM json_each(?))`, [JSON.stringify(inos.slice(i, i + FETCH_KEYS_CHUNK))])
    for (const r of rows) out.set(`i${r.ino}`, inodeFromRow(r))
  }
  for (let i = 0; i < entries.length; i += FETCH_KEYS_CHUNK) {
    const rows = await db.all<DentryRow>('SELECT parent,name,ino,type,cookie FROM dentries WHERE (parent,name) IN (SELECT value->>0, value->>1 FROM json_each(?))', [JSON.stringify(entries.slice(i, i + FETCH_KEYS_CHUNK))])
    for (const r of rows) out.set(`d${r.parent}/${r.name}`, dentryFromRow(r))
  }
  for (let i = 0; i < nodes.length; i += FETCH_KEYS_CHUNK) {
    // As fetchKey: the node's own inode first, else the inode it was merged into.
    const rows = await db.all<{ node: string, ino: number, alias: number }>('SELECT node, ino, 0 AS alias FROM inodes WHERE node IN (SELECT value FROM json_each(?1)) UNION ALL SELECT node, ino, 1 AS alias FROM node_aliases WHERE node IN (SELECT value FROM json_each(?1))', [JSON.stringify(nodes.slice(i, i + FETCH_KEYS_CHUNK))])
    for (const r of rows) if (r.alias === 0 || out.get(`n${r.node}`) === ABSENT) out.set(`n${r.node}`, r.ino)
  }
  return out
}

/** Names of one inode a range read gives (hard links: a few). */
const NAMES_LOADED = 64

/** A range read for one op: `S<ino>/<from>` (stripes from an index), `X<ino>` (every xattr) or `M<ino>` (its names). */
export async function fetchRange (db: Db, k: string): Promise<StripeRef[] | Array<[string, Uint8Array]> | DentryRec[]> {
  if (k.charCodeAt(0) === 0x4d) {
    const rows = await db.all<DentryRow>(`SELECT parent,name,ino,type,cookie FROM dentries WHERE ino=? ORDER BY parent,name LIMIT ${NAMES_LOADED}`, [Number(k.slice(1))])
    return rows.map(dentryFromRow)
  }
  if (k.charCodeAt(0) === 0x53) {
    const slash = k.indexOf('/')
    return await readStripes(db, Number(k.slice(1, slash)), Number(k.slice(slash + 1)), Number.MAX_SAFE_INTEGER)
  }
  const rows = await db.all<{ name: string, value: Buffer }>('SELECT name,value FROM xattrs WHERE ino=?', [Number(k.slice(1))])
  return rows.map(r => [r.name, new Uint8Array(r.value)] as [string, Uint8Array])
}

/** True for the keys of range reads (fetchRange), which are never cached. */
export function isRangeKey (k: string): boolean {
  const c = k.charCodeAt(0)
  return c === 0x53 || c === 0x58 || c === 0x4d
}

/** A dentry joined with its inode (LEFT JOIN: the inode columns are null when it has none). */
type EntryRow = InodeRow & { d_name: string, d_ino: number, d_type: string, cookie: number }

const ENTRY_SELECT = `SELECT d.name AS d_name, d.ino AS d_ino, d.type AS d_type, d.cookie AS cookie, ${INODE_COLUMNS.split(', ').map(c => `i.${c}`).join(', ')}
  FROM dentries d LEFT JOIN inodes i ON i.ino = d.ino`

function entryFromRow (parent: number, r: EntryRow): { dentry: DentryRec, inode?: InodeRec } {
  const dentry: DentryRec = { parent, name: r.d_name, ino: r.d_ino, type: r.d_type as FileType, cookie: r.cookie }
  return r.ino == null ? { dentry } : { dentry, inode: inodeFromRow(r) }
}

/** An entry and its inode in one statement (a lookup miss). */
export async function fetchEntry (db: Db, parent: number, name: string): Promise<{ dentry: DentryRec, inode?: InodeRec } | undefined> {
  const row = await db.get<EntryRow>(`${ENTRY_SELECT} WHERE d.parent=? AND d.name=?`, [parent, name])
  return row == null ? undefined : entryFromRow(parent, row)
}

/** Entries after `cookie` with their inodes (as READDIRPLUS: the lookups that follow `ls` are cache hits). */
export async function readEntries (db: Db, dir: number, cookie: number, limit: number): Promise<Array<{ dentry: DentryRec, inode?: InodeRec }>> {
  const rows = await db.all<EntryRow>(`${ENTRY_SELECT} WHERE d.parent=? AND d.cookie>? ORDER BY d.cookie LIMIT ?`, [dir, cookie, limit])
  return rows.map(r => entryFromRow(dir, r))
}

interface StripeRow { ino: number, idx: number, length: number, id: string, k: number, n: number, codec: number, fragments: string, holders: string, slices: string | null }

function stripeFromRow (r: StripeRow): StripeRef {
  const s: StripeRef = { index: r.idx, length: r.length, id: r.id, k: r.k, n: r.n, codecId: r.codec, fragments: JSON.parse(r.fragments), holders: JSON.parse(r.holders) }
  if (r.slices != null) s.slices = JSON.parse(r.slices)
  return s
}

export async function readStripes (db: Db, ino: number, from: number, to: number): Promise<StripeRef[]> {
  const rows = await db.all<StripeRow>('SELECT ino,idx,length,id,k,n,codec,fragments,holders,slices FROM stripes WHERE ino=? AND idx>=? AND idx<? ORDER BY idx', [ino, from, to])
  return rows.map(stripeFromRow)
}

/** Every stripe of every inode, paged by (ino, idx) so memory stays bounded. */
export async function * allStripeRows (db: Db): AsyncGenerator<{ ino: number, stripe: StripeRef }> {
  let ino = -1
  let idx = -1
  for (;;) {
    const rows = await db.all<StripeRow>('SELECT ino,idx,length,id,k,n,codec,fragments,holders,slices FROM stripes WHERE (ino,idx)>(?,?) ORDER BY ino,idx LIMIT ?', [ino, idx, PAGE_ROWS])
    for (const r of rows) yield { ino: r.ino, stripe: stripeFromRow(r) }
    if (rows.length < PAGE_ROWS) return
    ino = rows[rows.length - 1].ino
    idx = rows[rows.length - 1].idx
  }
}

export async function readXattrNames (db: Db, ino: number): Promise<string[]> {
  const rows = await db.all<{ name: string }>('SELECT name FROM xattrs WHERE ino=? ORDER BY name', [ino])
  return rows.map(r => r.name)
}

/** One name of `ino` and its parent, or undefined if it has none. */
export async function readNameOf (db: Db, ino: number): Promise<{ parent: number, name: string } | undefined> {
  return await db.get<{ parent: number, name: string }>('SELECT parent,name FROM dentries WHERE ino=? LIMIT 1', [ino])
}

interface OpRow { author: string, seq: number, hlc: string, body: string, sig: Buffer | null }

/** The ops after `k` in total order with their undo records: the ops a late op is applied before. */
export async function readTail (db: Db, k: OpKey): Promise<MergeStep[]> {
  const rows = await db.all<OpRow & { undo: string | null }>('SELECT author,seq,CAST(hlc AS TEXT) AS hlc,body,sig,undo FROM ops WHERE (hlc,author,seq)>(CAST(? AS INTEGER),?,?) ORDER BY hlc,author,seq', [k.hlc.toString(), k.author, k.seq])
  return rows.map(r => ({
    signed: r.sig == null ? { op: decodeOp(r.body), body: r.body } : { op: decodeOp(r.body), body: r.body, sig: new Uint8Array(r.sig) },
    key: { hlc: BigInt(r.hlc), author: r.author, seq: r.seq },
    fresh: false,
    undo: r.undo == null ? undefined : decodeUndo(r.undo)
  }))
}

/** The log in total order (hlc, author, seq), paged. */
export async function * readOps (db: Db): AsyncGenerator<SignedOp> {
  let last: [string, string, number] = ['-1', '', 0]
  for (;;) {
    const rows = await db.all<OpRow>('SELECT author,seq,CAST(hlc AS TEXT) AS hlc,body,sig FROM ops WHERE (hlc,author,seq)>(CAST(? AS INTEGER),?,?) ORDER BY hlc,author,seq LIMIT ?', [...last, PAGE_ROWS])
    for (const r of rows) {
      yield r.sig == null ? { op: decodeOp(r.body), body: r.body } : { op: decodeOp(r.body), body: r.body, sig: new Uint8Array(r.sig) }
    }
    if (rows.length < PAGE_ROWS) return
    const end = rows[rows.length - 1]
    last = [end.hlc, end.author, end.seq]
  }
}

/** Highest seq per author in the log (`max(seq)` per author, served by the (author, seq) key). */
export async function readVersionVector (db: Db): Promise<Map<string, number>> {
  const rows = await db.all<{ author: string, seq: number }>('SELECT author, max(seq) AS seq FROM ops GROUP BY author')
  return new Map(rows.map(r => [r.author, r.seq]))
}

/** Ops of `author` with seq > `after`, in seq order, at most `limit` (paged by the (author, seq) key). */
export async function readAuthorOps (db: Db, author: string, after: number, limit: number): Promise<Array<{ seq: number, body: string, sig?: Uint8Array }>> {
  const rows = await db.all<{ seq: number, body: string, sig: Buffer | null }>('SELECT seq,body,sig FROM ops WHERE author=? AND seq>? ORDER BY seq LIMIT ?', [author, after, limit])
  return rows.map(r => r.sig == null ? { seq: r.seq, body: r.body } : { seq: r.seq, body: r.body, sig: new Uint8Array(r.sig) })
}
