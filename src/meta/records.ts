/**
 * The materialised tree in memory: inode and directory-entry records, their database rows and the
 * SQL that writes them. Records are immutable: a change makes a new object, so a record handed to a
 * cache or a caller never changes under it.
 */
import { InvalidArgumentError } from '../errors.js'
import { joinNs, splitNs } from '../util/ns-time.js'
import { MAX_TIME_SECONDS } from './constants.js'
import { sqlInt, sqlOrNull, sqlText, type BoundJson } from './sql.js'
import type { Attr, FileType } from './types.js'

export interface InodeRec {
  readonly ino: number
  /** Global node id (the same on every device): `root` or `<seq>@<author>` of the creating op. */
  readonly node: string
  readonly type: FileType
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly nlink: number
  readonly size: number
  readonly rdev: number
  readonly atimeNs: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
  /** Directories: the parent directory's ino (the root is its own parent). Others: 0. */
  readonly parent: number
  /** Directories: number of entries. Others: 0. */
  readonly entries: number
  /** Files: stripe size in bytes, 0 until the file first has content. */
  readonly stripeSize: number
  /** Symlinks: the target. */
  readonly target?: string
  /** Files: the op (`seq@author`) that last changed the content; absent before any. */
  readonly ver?: string
}

/**
 * Where a removed directory was (`R<node>`, table `removed_dirs`): a late op that still names it as
 * a parent (made by a device that had not seen the removal) brings it back there (revive.ts).
 * Times are decimal nanoseconds (the record is stored as JSON, also in undo records).
 */
/**
 * A `removed_dirs` row (`R<node>`): where a removed directory was, or, for the id of an mkdir merged
 * into the directory it found at its name (that id is an alias), the id of that directory, so that
 * ops naming the alias bring it back too when it is removed (revive.ts).
 */
export type RemovedDirRec = WhereDirWas | MergedDirRec

export interface MergedDirRec {
  readonly into: string
}

export interface WhereDirWas {
  /** The node id of the directory it was in, and its name there. */
  readonly parent: string
  readonly name: string
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtime: string
  /** The time of the op that removed it. */
  readonly removed: string
}

export interface DentryRec {
  readonly parent: number
  readonly name: string
  readonly ino: number
  readonly type: FileType
  /** Readdir position: unique and increasing in insertion order, never reused. */
  readonly cookie: number
}

/** Splits signed nanoseconds into (seconds, 0 ≤ nanoseconds < 1e9), both exact JS numbers. */
export const splitTime = splitNs
export const joinTime = joinNs

/** InvalidArgumentError unless `ns` fits the journal exactly. */
export function checkTime (ns: bigint, what: string): void {
  const [s] = splitNs(ns)
  if (s > MAX_TIME_SECONDS || s < -MAX_TIME_SECONDS) {
    throw new InvalidArgumentError(`${what} ${ns} ns is outside the range the journal stores (±2^53 seconds)`)
  }
}

export function attrOf (rec: InodeRec): Attr {
  return {
    ino: rec.ino,
    type: rec.type,
    mode: rec.mode,
    uid: rec.uid,
    gid: rec.gid,
    nlink: rec.nlink,
    size: rec.size,
    rdev: rec.rdev,
    atimeNs: rec.atimeNs,
    mtimeNs: rec.mtimeNs,
    ctimeNs: rec.ctimeNs
  }
}

/** A row of the `inodes` table as node-sqlite3 returns it. */
export interface InodeRow {
  ino: number
  node: string
  type: string
  mode: number
  uid: number
  gid: number
  nlink: number
  size: number
  rdev: number
  atime_s: number
  atime_n: number
  mtime_s: number
  mtime_n: number
  ctime_s: number
  ctime_n: number
  parent: number
  entries: number
  stripe_size: number
  target: string | null
  ver: string | null
}

export const INODE_COLUMNS = 'ino, node, type, mode, uid, gid, nlink, size, rdev, atime_s, atime_n, mtime_s, mtime_n, ctime_s, ctime_n, parent, entries, stripe_size, target, ver'

export function inodeFromRow (r: InodeRow): InodeRec {
  const rec: InodeRec = {
    ino: r.ino,
    node: r.node,
    type: r.type as FileType,
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    nlink: r.nlink,
    size: r.size,
    rdev: r.rdev,
    atimeNs: joinTime(r.atime_s, r.atime_n),
    mtimeNs: joinTime(r.mtime_s, r.mtime_n),
    ctimeNs: joinTime(r.ctime_s, r.ctime_n),
    parent: r.parent,
    entries: r.entries,
    stripeSize: r.stripe_size
  }
  const withTarget = r.target == null ? rec : { ...rec, target: r.target }
  return r.ver == null ? withTarget : { ...withTarget, ver: r.ver }
}

/**
 * An upsert of the whole record (one statement, whatever changed), node id and type included: an
 * inode number belongs to one node for good (context.ts `undo`), and should a bug ever give it
 * another, the database takes what the view holds (or refuses a node id held twice) instead of
 * keeping the old id under the new record unseen.
 */
export function inodeUpsertSql (r: InodeRec): string {
  const [as, an] = splitTime(r.atimeNs)
  const [ms, mn] = splitTime(r.mtimeNs)
  const [cs, cn] = splitTime(r.ctimeNs)
  return `INSERT INTO inodes(${INODE_COLUMNS}) VALUES(${r.ino},${sqlText(r.node)},'${r.type}',${r.mode},${r.uid},${r.gid},${r.nlink},${sqlInt(r.size)},${r.rdev},${as},${an},${ms},${mn},${cs},${cn},${r.parent},${r.entries},${r.stripeSize},${sqlOrNull(r.target, sqlText)},${sqlOrNull(r.ver, sqlText)})` +
    ' ON CONFLICT(ino) DO UPDATE SET node=excluded.node,type=excluded.type,mode=excluded.mode,uid=excluded.uid,gid=excluded.gid,nlink=excluded.nlink,size=excluded.size,rdev=excluded.rdev,' +
    'atime_s=excluded.atime_s,atime_n=excluded.atime_n,mtime_s=excluded.mtime_s,mtime_n=excluded.mtime_n,ctime_s=excluded.ctime_s,ctime_n=excluded.ctime_n,' +
    'parent=excluded.parent,entries=excluded.entries,stripe_size=excluded.stripe_size,target=excluded.target,ver=excluded.ver;'
}

/** The upsert of many whole records: one statement, the values in bound JSON (sql.ts `BoundJson`). */
export function inodesUpsertSql (recs: InodeRec[], bound: BoundJson): string {
  // Most records' three times are one op's time (a create's, a directory's mtime and ctime):
  // each distinct time is split once (bigint arithmetic allocates).
  let last: bigint | undefined
  let split: [number, number] = [0, 0]
  const parts = (ns: bigint): [number, number] => {
    if (ns !== last) { split = splitTime(ns); last = ns }
    return split
  }
  const rows = recs.map(r => {
    const [as, an] = parts(r.atimeNs)
    const [ms, mn] = parts(r.mtimeNs)
    const [cs, cn] = parts(r.ctimeNs)
    sqlInt(r.size)
    return [r.ino, r.node, r.type, r.mode, r.uid, r.gid, r.nlink, r.size, r.rdev, as, an, ms, mn, cs, cn, r.parent, r.entries, r.stripeSize, r.target ?? null, r.ver ?? null]
  })
  const values = INODE_COLUMNS.split(', ').map((_, i) => `value->>${i}`).join(',')
  // bound.rows ends in a WHERE: an upsert's SELECT needs one before ON CONFLICT (SQLite's parsing ambiguity).
  return `INSERT INTO inodes(${INODE_COLUMNS}) SELECT ${values} FROM ${bound.rows(rows)}` +
    ' ON CONFLICT(ino) DO UPDATE SET node=excluded.node,type=excluded.type,mode=excluded.mode,uid=excluded.uid,gid=excluded.gid,nlink=excluded.nlink,size=excluded.size,rdev=excluded.rdev,' +
    'atime_s=excluded.atime_s,atime_n=excluded.atime_n,mtime_s=excluded.mtime_s,mtime_n=excluded.mtime_n,ctime_s=excluded.ctime_s,ctime_n=excluded.ctime_n,' +
    'parent=excluded.parent,entries=excluded.entries,stripe_size=excluded.stripe_size,target=excluded.target,ver=excluded.ver;'
}

export function inodeDeleteSql (ino: number): string {
  return `DELETE FROM inodes WHERE ino=${ino};`
}

export interface DentryRow {
  parent: number
  name: string
  ino: number
  type: string
  cookie: number
}

export function dentryFromRow (r: DentryRow): DentryRec {
  return { parent: r.parent, name: r.name, ino: r.ino, type: r.type as FileType, cookie: r.cookie }
}

export function dentryUpsertSql (d: DentryRec): string {
  return `INSERT OR REPLACE INTO dentries(parent,name,ino,type,cookie) VALUES(${d.parent},${sqlText(d.name)},${d.ino},'${d.type}',${d.cookie});`
}

/** The upsert of many entries: one statement, the values in bound JSON (sql.ts `BoundJson`). */
export function dentriesUpsertSql (ds: DentryRec[], bound: BoundJson): string {
  const rows = ds.map(d => [d.parent, d.name, d.ino, d.type, d.cookie])
  return `INSERT OR REPLACE INTO dentries(parent,name,ino,type,cookie) SELECT value->>0,value->>1,value->>2,value->>3,value->>4 FROM ${bound.rows(rows)};`
}

export function dentryDeleteSql (parent: number, name: string): string {
  return `DELETE FROM dentries WHERE parent=${parent} AND name=${sqlText(name)};`
}
