/**
 * Undo records: what an op's changes replaced, key by key (docs/journal.md, "Late ops"). Restoring
 * them in reverse order undoes the op. They are stored with the op (`ops.undo`) as JSON; a value's
 * type follows from its key's kind (i inode, d entry, x xattr, s stripe, n node → ino), null is
 * "absent".
 */
import { ABSENT, type Cached } from './cache.js'
import type { DentryRec, InodeRec } from './records.js'
import type { StripeRef } from './types.js'

export interface Undo {
  /**
   * (key, value before the op), in the order the op first changed them. An inode the op changed
   * but did not create or remove is read back from a stored record as the fields it changed
   * (InodeDelta): most ops touch their parent directory's times and entry count only.
   */
  priors: Array<[string, Cached | InodeDelta]>
  /** Counter deltas the op made (files, dirs, logical bytes). */
  files: number
  dirs: number
  bytes: number
}

export const EMPTY_UNDO: Undo = { priors: [], files: 0, dirs: 0, bytes: 0 }

const INODE_BIGINTS = ['atimeNs', 'mtimeNs', 'ctimeNs'] as const

/** The fields an InodeDelta may hold: every field but the inode's identity (ino, node, type). */
const DELTA_FIELDS = ['mode', 'uid', 'gid', 'nlink', 'size', 'rdev', 'atimeNs', 'mtimeNs', 'ctimeNs', 'parent', 'entries', 'stripeSize', 'target', 'ver'] as const
type DeltaField = typeof DELTA_FIELDS[number]

/**
 * An inode's value before an op as the fields the op changed, with their values before it (undefined:
 * the field was absent). Undo records are restored in reverse op order, so when an op is undone its
 * keys hold what it left: the record before it is that record with these fields put back.
 */
export class InodeDelta {
  readonly fields: Partial<Record<DeltaField, unknown>>
  constructor (fields: Partial<Record<DeltaField, unknown>>) { this.fields = fields }

  /** The record before the op, from `after`, the record the op left. */
  before (after: InodeRec): InodeRec {
    const rec: Record<string, unknown> = { ...after }
    for (const [f, v] of Object.entries(this.fields)) {
      if (v === undefined) delete rec[f]
      else rec[f] = v
    }
    return rec as unknown as InodeRec
  }
}

/**
 * The stored form of an inode's prior value: the fields the op changed (`{"~":{…}}`, times as
 * decimal strings, null for a field that was absent) when the op left the same inode, else the
 * whole record. A create's parent directory then costs its three changed fields, not all of them.
 */
function encodeInodePrior (prior: InodeRec, after: Cached | undefined): unknown {
  if (after === undefined || after === ABSENT) return encodeInode(prior)
  const a = after as InodeRec
  if (a.ino !== prior.ino || a.node !== prior.node || a.type !== prior.type) return encodeInode(prior)
  const d: Record<string, unknown> = {}
  for (const f of DELTA_FIELDS) {
    const v = prior[f]
    if (v === a[f]) continue
    d[f] = v === undefined ? null : typeof v === 'bigint' ? v.toString() : v
  }
  return { '~': d }
}

function decodeInodeDelta (d: Record<string, unknown>): InodeDelta {
  const fields: Record<string, unknown> = {}
  for (const f of DELTA_FIELDS) {
    if (!(f in d)) continue
    const v = d[f]
    fields[f] = v === null ? undefined : (INODE_BIGINTS as readonly string[]).includes(f) ? BigInt(v as string) : v
  }
  return new InodeDelta(fields)
}

/**
 * An inode as an array, its fields in this order (times as decimal strings), then the symlink
 * target and the content version when it has them (null for a missing target before a version).
 * Records logged before this form are objects with the same field names; both are read.
 */
function encodeInode (r: InodeRec): unknown[] {
  const a: unknown[] = [r.ino, r.node, r.type, r.mode, r.uid, r.gid, r.nlink, r.size, r.rdev, r.atimeNs.toString(), r.mtimeNs.toString(), r.ctimeNs.toString(), r.parent, r.entries, r.stripeSize]
  if (r.ver !== undefined) a.push(r.target ?? null, r.ver)
  else if (r.target !== undefined) a.push(r.target)
  return a
}

function decodeInode (a: unknown[]): InodeRec {
  const rec: Record<string, unknown> = {
    ino: a[0], node: a[1], type: a[2], mode: a[3], uid: a[4], gid: a[5], nlink: a[6], size: a[7], rdev: a[8],
    atimeNs: BigInt(a[9] as string), mtimeNs: BigInt(a[10] as string), ctimeNs: BigInt(a[11] as string),
    parent: a[12], entries: a[13], stripeSize: a[14]
  }
  if (a[15] != null) rec.target = a[15]
  if (a[16] != null) rec.ver = a[16]
  return rec as unknown as InodeRec
}

function encodeValue (k: string, v: Cached | InodeDelta, after: Cached | undefined): unknown {
  if (v === ABSENT) return null
  switch (k.charCodeAt(0)) {
    case 0x69: return v instanceof InodeDelta ? encodeDelta(v) : encodeInodePrior(v as InodeRec, after)
    case 0x78:
    case 0x61: return Buffer.from(v as Uint8Array).toString('base64')
    default: return v
  }
}

/** An InodeDelta read back, stored again (a redone op's record is new, so this is rare). */
function encodeDelta (d: InodeDelta): unknown {
  const o: Record<string, unknown> = {}
  for (const [f, v] of Object.entries(d.fields)) o[f] = v === undefined ? null : typeof v === 'bigint' ? v.toString() : v
  return { '~': o }
}

function decodeValue (k: string, v: unknown): Cached | InodeDelta {
  if (v === null) return ABSENT
  switch (k.charCodeAt(0)) {
    case 0x69: {
      if (Array.isArray(v)) return decodeInode(v)
      if ('~' in (v as object)) return decodeInodeDelta((v as Record<string, Record<string, unknown>>)['~'])
      const r = { ...(v as Record<string, unknown>) }
      for (const f of INODE_BIGINTS) r[f] = BigInt(r[f] as string)
      return r as unknown as InodeRec
    }
    case 0x78:
    case 0x61: return new Uint8Array(Buffer.from(v as string, 'base64'))
    case 0x64: return v as DentryRec
    case 0x73: return v as StripeRef
    default: return v as number
  }
}

/** The stored form of `u`; `after` holds the values the op left (its keys' values right after it). */
export function encodeUndo (u: Undo, after?: ReadonlyMap<string, Cached>): string {
  return encodeUndoOf(u.priors, u, after)
}

/** `encodeUndo` of priors in any iterable form (an op's record keeps them in a map). */
export function encodeUndoOf (priors: Iterable<[string, Cached | InodeDelta]>, counts: { files: number, dirs: number, bytes: number }, after?: ReadonlyMap<string, Cached>): string {
  const p: unknown[] = []
  for (const [k, v] of priors) p.push([k, encodeValue(k, v, after?.get(k))])
  return JSON.stringify({ p, f: counts.files, d: counts.dirs, b: counts.bytes })
}

export function decodeUndo (text: string | null): Undo {
  if (text == null || text === '') return EMPTY_UNDO
  const w = JSON.parse(text) as { p: Array<[string, unknown]>, f: number, d: number, b: number }
  return { priors: w.p.map(([k, v]) => [k, decodeValue(k, v)]), files: w.f, dirs: w.d, bytes: w.b }
}
