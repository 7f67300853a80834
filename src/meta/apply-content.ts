/**
 * Ops that change one inode: setattr (incl. truncate), setContent (a manifest delta: only the
 * changed stripes are written, never the whole manifest), xattrs, and release (purge of an unlinked
 * inode).
 */
import { ExistsError, InvalidArgumentError, IsDirectoryError, NoDataError, ValueTooBigError } from '../errors.js'
import { MAX_FILE_SIZE_BYTES, MAX_SLICES_PER_STRIPE, MAX_STRIPE_SIZE_BYTES, OP_VERSION_SLICES, XATTR_VALUE_MAX_BYTES } from './constants.js'
import { checkInt, checkName, checkXattrName } from './names.js'
import type { Op } from './op.js'
import { checkTime, type InodeRec } from './records.js'
import { fileRec, nodeRec, touchDir, update, type ApplyResult } from './apply.js'
import { freeName } from './conflict-name.js'
import { dirOrRoot } from './revive.js'
import type { ApplyView } from './view.js'
import type { StripeRef } from './types.js'
import { baseOf, checkSlice, checkSliceCount, checkStored, copySlice } from './slices.js'

type OpOf<K extends Op['kind']> = Extract<Op, { kind: K }>

/** Drops the stripes wholly at or past `size` (truncation); `r` is the inode before the change. */
function dropStripesFrom (v: ApplyView, r: InodeRec, size: number): void {
  if (r.stripeSize === 0 || r.size === 0) return
  for (const idx of v.stripeIndexesFrom(r.ino, Math.ceil(size / r.stripeSize))) v.dropStripe(r.ino, idx)
}

/** Drops every xattr of an inode that is purged. */
export function dropXattrs (v: ApplyView, ino: number): void {
  for (const name of v.xattrNames(ino)) v.dropXattr(ino, name)
}

export function applySetattr (v: ApplyView, op: OpOf<'setattr'>): ApplyResult {
  const cur = nodeRec(v, op.node, 'inode to change')
  if (op.mode !== undefined) checkInt(op.mode, 'mode', 0, 0o7777)
  if (op.uid !== undefined) checkInt(op.uid, 'uid', 0, 0xffff_ffff)
  if (op.gid !== undefined) checkInt(op.gid, 'gid', 0, 0xffff_ffff)
  for (const [t, what] of [[op.atime, 'atime'], [op.mtime, 'mtime'], [op.ctime, 'ctime']] as const) {
    if (t !== undefined) checkTime(t, what)
  }
  let next: InodeRec = {
    ...cur,
    mode: op.mode ?? cur.mode,
    uid: op.uid ?? cur.uid,
    gid: op.gid ?? cur.gid,
    atimeNs: op.atime ?? cur.atimeNs,
    mtimeNs: op.mtime ?? cur.mtimeNs,
    ctimeNs: op.ctime ?? op.time
  }
  if (op.size !== undefined) {
    if (cur.type === 'dir') throw new IsDirectoryError(`inode ${cur.ino} is a directory: it cannot be truncated`, { details: { ino: cur.ino } })
    fileRec(v, op.node, 'truncate')
    checkInt(op.size, 'file size', 0, MAX_FILE_SIZE_BYTES)
    if (op.size < cur.size) dropStripesFrom(v, cur, op.size)
    // truncate(2) marks mtime as well as ctime.
    next = { ...next, size: op.size, mtimeNs: op.mtime ?? op.time, ver: `${op.seq}@${op.author}` }
    v.count(0, 0, op.size - cur.size)
  }
  v.putInode(next)
  return { rec: next }
}

/** InvalidArgumentError unless `s` is a well-formed stripe of a file of `size` bytes in `stripeSize` stripes. */
export function checkStripe (s: StripeRef, stripeSize: number, size: number, ino: number): void {
  const what = `stripe ${String(s?.index)} of inode ${ino}`
  if (s == null || typeof s !== 'object') throw new InvalidArgumentError(`${what} is not a stripe reference`)
  checkInt(s.index, `${what}: index`, 0, Math.floor(MAX_FILE_SIZE_BYTES / stripeSize))
  checkInt(s.length, `${what}: length`, 1, stripeSize)
  if (s.index * stripeSize + s.length > size) throw new InvalidArgumentError(`${what} ends at byte ${s.index * stripeSize + s.length}, past the file size ${size}`)
  checkStored(s, what)
}

export function applySetContent (v: ApplyView, op: OpOf<'setContent'>): ApplyResult {
  let cur = fileRec(v, op.node, 'setting content')
  checkInt(op.size, 'file size', 0, MAX_FILE_SIZE_BYTES)
  checkInt(op.stripeSize, 'stripe size', 1, MAX_STRIPE_SIZE_BYTES)
  if (cur.stripeSize !== 0 && cur.stripeSize !== op.stripeSize && cur.size > 0) {
    throw new InvalidArgumentError(`inode ${cur.ino} has stripes of ${cur.stripeSize} bytes; a manifest delta of ${op.stripeSize}-byte stripes does not fit (truncate the file to 0 first)`, { details: { ino: cur.ino } })
  }
  if (op.mtime !== undefined) checkTime(op.mtime, 'mtime')
  if (!Array.isArray(op.stripes) || !Array.isArray(op.holes)) throw new InvalidArgumentError(`manifest delta for inode ${cur.ino} lacks its stripe or hole list`)
  const seen = new Set<number>()
  for (const s of op.stripes) {
    checkStripe(s, op.stripeSize, op.size, cur.ino)
    if (seen.has(s.index)) throw new InvalidArgumentError(`manifest delta for inode ${cur.ino} lists stripe ${s.index} twice`)
    seen.add(s.index)
  }
  for (const h of op.holes) checkInt(h, `hole index of inode ${cur.ino}`, 0, Number.MAX_SAFE_INTEGER)
  checkAddSlices(op, seen, cur.ino)

  // Written without seeing the file's current version: that version is kept as a conflict copy.
  const copied = op.base !== undefined && op.base !== (cur.ver ?? '') && keepConflictCopy(v, op, cur)
  // Written where it had a name, here it has none: a concurrent delete. The edit survives.
  if (cur.nlink === 0 && isAt(op.at)) relink(v, op, cur)
  cur = v.inode(cur.ino) as InodeRec
  const rec = { ...cur, stripeSize: op.stripeSize }
  if (op.size < cur.size) dropStripesFrom(v, cur, op.size)
  // Stripes that start at or past the old size did not exist: no read to record what they replace.
  const oldEnd = cur.stripeSize === 0 ? 0 : Math.ceil(cur.size / cur.stripeSize)
  for (const h of op.holes) {
    if (h < oldEnd && v.stripe(cur.ino, h) !== undefined) v.dropStripe(cur.ino, h)
  }
  for (const s of op.stripes) {
    const stripe = { index: s.index, length: s.length, id: s.id, k: s.k, n: s.n, codecId: s.codecId, fragments: s.fragments, holders: s.holders }
    if (s.index >= oldEnd) v.putNewStripe(cur.ino, stripe)
    else v.putStripe(cur.ino, stripe)
  }
  for (const a of op.addSlices ?? []) {
    // The base was dropped by an op earlier in the total order (another device's truncate or punch
    // it did not see): nothing is left to lay the slices over (docs/journal.md, "Slices").
    const base = v.stripe(cur.ino, a.index)
    if (base === undefined) continue
    // Laid over the stripe its author saw: a concurrent append (its base the same, its list longer)
    // is cut back to that view when the conflict copy keeps it. Without a copy (the author saw the
    // version that appended them; its stripe buffer was only read before) they stay under its own.
    const prior = base.slices ?? []
    const kept = copied && base.id === a.over && prior.length > a.seen ? prior.slice(0, a.seen) : prior
    const slices = [...kept, ...a.slices.map(copySlice)]
    checkSliceCount(slices.length, a.index, cur.ino)
    v.putStripe(cur.ino, { ...base, slices })
  }
  const next = { ...rec, size: op.size, mtimeNs: op.mtime ?? op.time, ctimeNs: op.time, ver: `${op.seq}@${op.author}` }
  v.putInode(next)
  v.count(0, 0, op.size - cur.size)
  return { rec: next }
}

/** InvalidArgumentError unless the op's `addSlices` is well formed (v2 op; stripes not also replaced or punched). */
function checkAddSlices (op: OpOf<'setContent'>, replaced: Set<number>, ino: number): void {
  if (op.addSlices === undefined) return
  if (op.v !== OP_VERSION_SLICES) throw new InvalidArgumentError(`manifest delta for inode ${ino} appends slices in an op of format v${op.v}, not v${OP_VERSION_SLICES}`)
  if (!Array.isArray(op.addSlices)) throw new InvalidArgumentError(`manifest delta for inode ${ino}: its slice list is not a list`)
  const holes = new Set(op.holes)
  for (const a of op.addSlices) {
    if (a == null || typeof a !== 'object' || !Array.isArray(a.slices) || a.slices.length === 0) throw new InvalidArgumentError(`manifest delta for inode ${ino}: an entry of its slice list names no slices`)
    checkInt(a.index, `slice stripe index of inode ${ino}`, 0, Math.floor(MAX_FILE_SIZE_BYTES / op.stripeSize))
    if (typeof a.over !== 'string' || a.over === '') throw new InvalidArgumentError(`manifest delta for inode ${ino}: the slices of stripe ${a.index} name no base stripe`)
    checkInt(a.seen, `slices seen on stripe ${a.index} of inode ${ino}`, 0, MAX_SLICES_PER_STRIPE)
    if (replaced.has(a.index) || holes.has(a.index)) throw new InvalidArgumentError(`manifest delta for inode ${ino} both replaces and slices stripe ${a.index}`)
    replaced.add(a.index)
    checkSliceCount(a.slices.length, a.index, ino)
    for (const x of a.slices) checkSlice(x, a.index, op.stripeSize, op.size, ino)
  }
}

export function applySetXattr (v: ApplyView, op: OpOf<'setxattr'>): ApplyResult {
  const cur = nodeRec(v, op.node, 'inode of the extended attribute')
  checkXattrName(op.name)
  if (!(op.value instanceof Uint8Array)) throw new InvalidArgumentError(`value of extended attribute ${op.name} is not bytes`)
  if (op.value.byteLength > XATTR_VALUE_MAX_BYTES) {
    throw new ValueTooBigError(`extended attribute ${op.name} of inode ${cur.ino}: value of ${op.value.byteLength} bytes exceeds ${XATTR_VALUE_MAX_BYTES}`)
  }
  const existing = v.xattr(cur.ino, op.name)
  if (op.mode === 'create' && existing !== undefined) throw new ExistsError(`extended attribute ${op.name} of inode ${cur.ino} already exists (XATTR_CREATE)`, { details: { ino: cur.ino } })
  if (op.mode === 'replace' && existing === undefined) throw new NoDataError(`extended attribute ${op.name} of inode ${cur.ino} does not exist (XATTR_REPLACE)`, { details: { ino: cur.ino } })
  v.putXattr(cur.ino, op.name, op.value)
  return { rec: update(v, cur.ino, r => ({ ...r, ctimeNs: op.time })) }
}

export function applyRemoveXattr (v: ApplyView, op: OpOf<'removexattr'>): ApplyResult {
  const cur = nodeRec(v, op.node, 'inode of the extended attribute')
  checkXattrName(op.name)
  if (v.xattr(cur.ino, op.name) === undefined) throw new NoDataError(`extended attribute ${op.name} of inode ${cur.ino} does not exist`, { details: { ino: cur.ino } })
  v.dropXattr(cur.ino, op.name)
  return { rec: update(v, cur.ino, r => ({ ...r, ctimeNs: op.time })) }
}

/** Purges an inode with no names left. A no-op (no change staged) if it is gone or has names again. */
export function applyRelease (v: ApplyView, op: OpOf<'release'>): ApplyResult {
  const ino = v.inoOf(op.node)
  const cur = ino === undefined ? undefined : v.inode(ino)
  if (cur == null || cur.nlink > 0) return {}
  dropStripesFrom(v, cur, 0)
  dropXattrs(v, cur.ino)
  v.dropInode(cur)
  v.count(cur.type === 'dir' ? 0 : -1, cur.type === 'dir' ? -1 : 0, -cur.size)
  return {}
}

/** A well-formed `at` of a setContent op: [parent node, a valid name]. */
function isAt (at: unknown): at is [string, string] {
  if (!Array.isArray(at) || at.length !== 2 || typeof at[0] !== 'string' || typeof at[1] !== 'string') return false
  try {
    checkName(at[1])
    return true
  } catch {
    return false
  }
}

/** Gives an unlinked file its name back (or the conflict name if it is taken). */
function relink (v: ApplyView, op: OpOf<'setContent'>, cur: InodeRec): void {
  const [parentNode, name] = op.at as [string, string]
  const parent = dirOrRoot(v, parentNode, op.time)
  const free = freeName(n => v.dentry(parent.ino, n) != null, name, op.author, op.time)
  if (free === undefined) return
  v.putDentry({ parent: parent.ino, name: free, ino: cur.ino, type: 'file', cookie: v.allocCookie() })
  update(v, parent.ino, r => touchDir(r, op.time, 1, 0))
  update(v, cur.ino, r => ({ ...r, nlink: r.nlink + 1 }))
}

/**
 * Concurrent writes to one file (docs/journal.md, "Conflicts"): the later op in total order keeps
 * the name; the version it did not see stays beside it as `NAME (conflict DEVICE …)`, DEVICE being
 * that version's author. The copy is a new node (`c<seq>@<author>` of the later op) with the same
 * stripes (no data is copied: fragments are shared) and xattrs, in the directory the later op was
 * written in (the root if that is gone), so every device makes the same copy. An empty version
 * gets no copy: there are no bytes to keep (a rewrite's truncation would litter empty copies).
 * True when a copy was made.
 */
function keepConflictCopy (v: ApplyView, op: OpOf<'setContent'>, cur: InodeRec): boolean {
  // An empty version holds no bytes to keep (often the truncation that starts a rewrite).
  if (cur.size === 0) return false
  const [parentNode, name] = isAt(op.at) ? op.at : ['root', cur.node]
  const parent = dirOrRoot(v, parentNode, op.time)
  const loser = (cur.ver ?? '').split('@')[1] ?? op.author
  const copyName = freeName(n => v.dentry(parent.ino, n) != null, name, loser, op.time, false)
  if (copyName === undefined) return false
  const node = `c${op.seq}@${op.author}`
  const ino = v.allocIno(node)
  v.putInode({ ...cur, ino, node, nlink: 1, parent: 0, ctimeNs: op.time })
  v.putDentry({ parent: parent.ino, name: copyName, ino, type: 'file', cookie: v.allocCookie() })
  for (const idx of v.stripeIndexesFrom(cur.ino, 0)) v.putNewStripe(ino, v.stripe(cur.ino, idx) as StripeRef)
  for (const x of v.xattrNames(cur.ino)) v.putXattr(ino, x, v.xattr(cur.ino, x) as Uint8Array)
  update(v, parent.ino, r => touchDir(r, op.time, 1, 0))
  v.count(1, 0, cur.size)
  return true
}

/**
 * A write whose file was deleted and purged concurrently: when the op carries the whole content
 * (every stripe up to its size) and the name its author saw, the edit survives as a new file
 * (`r<seq>@<author>`) there, or under the conflict name if that is taken. Its attributes are not in
 * the op: mode 0644, owner root. False when the op cannot rebuild the file.
 */
export function resurrect (v: ApplyView, op: OpOf<'setContent'>): boolean {
  if (!isAt(op.at)) return false
  checkInt(op.size, 'file size', 0, MAX_FILE_SIZE_BYTES)
  checkInt(op.stripeSize, 'stripe size', 1, MAX_STRIPE_SIZE_BYTES)
  if (op.mtime !== undefined) checkTime(op.mtime, 'mtime')
  const count = op.size === 0 ? 0 : Math.ceil(op.size / op.stripeSize)
  if (op.stripes.length !== count || !op.stripes.every(s => s.index < count)) return false
  const [parentNode, name] = op.at
  const parent = dirOrRoot(v, parentNode, op.time)
  const free = freeName(n => v.dentry(parent.ino, n) != null, name, op.author, op.time)
  if (free === undefined) return false
  const node = `r${op.seq}@${op.author}`
  const ino = v.allocIno(node)
  const rec: InodeRec = {
    ino, node, type: 'file', mode: 0o644, uid: 0, gid: 0, nlink: 1, size: op.size, rdev: 0,
    atimeNs: op.time, mtimeNs: op.mtime ?? op.time, ctimeNs: op.time, parent: 0, entries: 0, stripeSize: op.stripeSize, ver: `${op.seq}@${op.author}`
  }
  v.putInode(rec)
  // The purged node's id now names the new file: the author's later writes to it land here.
  v.mergeNode(op.node, ino)
  v.putDentry({ parent: parent.ino, name: free, ino, type: 'file', cookie: v.allocCookie() })
  for (const s of op.stripes) v.putNewStripe(ino, stripeOf(s, op.stripeSize, op.size, ino))
  update(v, parent.ino, r => touchDir(r, op.time, 1, 0))
  v.count(1, 0, op.size)
  return true
}

/** A stripe reference rebuilt from its known fields only (no arrays shared with the caller). */
export function copyStripe (s: StripeRef): StripeRef {
  const c: StripeRef = { index: s.index, length: s.length, id: s.id, k: s.k, n: s.n, codecId: s.codecId, fragments: [...s.fragments], holders: s.holders.map(h => [...h]) }
  if (s.slices != null && s.slices.length > 0) c.slices = s.slices.map(copySlice)
  return c
}

/** A stripe of a wire op, checked and rebuilt from its known fields only. */
function stripeOf (s: StripeRef, stripeSize: number, size: number, ino: number): StripeRef {
  checkStripe(s, stripeSize, size, ino)
  return copyStripe(baseOf(s))
}
