/**
 * Ops that change directory entries: create (all node types), link, unlink, rmdir, rename. POSIX
 * rules are enforced here, against the state every op before this one left, so they hold however
 * the callers race.
 */
import {
  BusyError, ExistsError, InvalidArgumentError, IsDirectoryError, NotDirectoryError, NotEmptyError,
  NotFoundError, NotPermittedError, TooManyLinksError
} from '../errors.js'
import { MAX_LINKS, ROOT_NODE } from './constants.js'
import { checkInt, checkName, checkTarget } from './names.js'
import { nodeIdOf, type Op } from './op.js'
import type { DentryRec, InodeRec } from './records.js'
import { dirRec, nodeRec, touchDir, update, type ApplyResult } from './apply.js'
import { dropXattrs } from './apply-content.js'
import { noteRemovedDir } from './revive.js'
import type { ApplyView } from './view.js'
import type { FileType } from './types.js'

type OpOf<K extends Op['kind']> = Extract<Op, { kind: K }>

const FILE_TYPES = new Set<FileType>(['file', 'dir', 'symlink', 'fifo', 'socket', 'char', 'block'])

function where (parent: InodeRec, name: string): string {
  return `"${name}" in directory inode ${parent.ino}`
}

function checkLinks (r: InodeRec, add: number): void {
  if (r.nlink + add > MAX_LINKS) throw new TooManyLinksError(`inode ${r.ino} already has ${r.nlink} links, the most there can be`, { details: { ino: r.ino } })
}

/** The entry `name` in `parent` and its inode; NotFoundError if absent, or if it names another node than the op saw. */
function entry (v: ApplyView, parent: InodeRec, name: string, node?: string): [DentryRec, InodeRec] {
  const d = v.dentry(parent.ino, name)
  const rec = d == null ? undefined : v.inode(d.ino)
  // A node merged into another (two mkdirs of one name) is named by either id.
  if (d == null || rec == null || (node !== undefined && rec.node !== node && v.inoOf(node) !== rec.ino)) {
    throw new NotFoundError(`${where(parent, name)} does not exist`, { details: { parent: parent.ino, name } })
  }
  return [d, rec]
}

export function applyCreate (v: ApplyView, op: OpOf<'create'>): ApplyResult {
  const parent = dirRec(v, op.parent, 'parent directory')
  checkName(op.name)
  if (!FILE_TYPES.has(op.type)) throw new InvalidArgumentError(`unknown file type ${JSON.stringify(op.type)}`)
  checkInt(op.mode, 'mode', 0, 0o7777)
  checkInt(op.uid, 'uid', 0, 0xffff_ffff)
  checkInt(op.gid, 'gid', 0, 0xffff_ffff)
  checkInt(op.rdev, 'rdev', 0, Number.MAX_SAFE_INTEGER)
  if (op.type === 'symlink') checkTarget(op.target)
  if (v.dentry(parent.ino, op.name) != null) {
    throw new ExistsError(`${where(parent, op.name)} already exists`, { details: { parent: parent.ino, name: op.name } })
  }
  const isDir = op.type === 'dir'
  if (isDir) checkLinks(parent, 1)
  const node = nodeIdOf(op.author, op.seq)
  const ino = v.allocIno(node)
  const rec: InodeRec = {
    ino,
    node,
    type: op.type,
    mode: op.mode,
    uid: op.uid,
    gid: op.gid,
    nlink: isDir ? 2 : 1,
    size: op.type === 'symlink' ? Buffer.byteLength(op.target as string) : 0,
    rdev: op.rdev,
    atimeNs: op.time,
    mtimeNs: op.time,
    ctimeNs: op.time,
    parent: isDir ? parent.ino : 0,
    entries: 0,
    stripeSize: 0,
    ...(op.type === 'symlink' ? { target: op.target } : {})
  }
  v.putInode(rec)
  v.putDentry({ parent: parent.ino, name: op.name, ino, type: op.type, cookie: v.allocCookie() })
  update(v, parent.ino, r => touchDir(r, op.time, 1, isDir ? 1 : 0))
  v.count(isDir ? 0 : 1, isDir ? 1 : 0, rec.size)
  return { rec }
}

export function applyLink (v: ApplyView, op: OpOf<'link'>): ApplyResult {
  const target = nodeRec(v, op.node, 'file to link')
  const parent = dirRec(v, op.parent, 'parent directory')
  checkName(op.name)
  if (target.type === 'dir') throw new NotPermittedError(`inode ${target.ino} is a directory: directories cannot be hard-linked`, { details: { ino: target.ino } })
  if (target.nlink === 0) throw new NotFoundError(`inode ${target.ino} was unlinked: it cannot get a new name`, { details: { ino: target.ino } })
  if (v.dentry(parent.ino, op.name) != null) {
    throw new ExistsError(`${where(parent, op.name)} already exists`, { details: { parent: parent.ino, name: op.name } })
  }
  checkLinks(target, 1)
  v.putDentry({ parent: parent.ino, name: op.name, ino: target.ino, type: target.type, cookie: v.allocCookie() })
  update(v, parent.ino, r => touchDir(r, op.time, 1, 0))
  const rec = update(v, target.ino, r => ({ ...r, nlink: r.nlink + 1, ctimeNs: op.time }))
  return { rec }
}

export function applyUnlink (v: ApplyView, op: OpOf<'unlink'>): ApplyResult {
  const parent = dirRec(v, op.parent, 'parent directory')
  checkName(op.name)
  const [, target] = entry(v, parent, op.name, op.node)
  if (target.type === 'dir') throw new IsDirectoryError(`${where(parent, op.name)} is a directory: use rmdir`, { details: { parent: parent.ino, name: op.name } })
  // Only in a merge: a write its author did not see happened first. The edit wins over the delete.
  if (op.seen !== undefined && target.type === 'file' && (target.ver ?? '') !== op.seen) {
    throw new BusyError(`${where(parent, op.name)} was written concurrently (version ${target.ver ?? 'none'}, the unlink saw ${op.seen || 'none'}): the edit is kept`, { details: { parent: parent.ino, name: op.name } })
  }
  // Its author saw other names, which concurrent ops removed: the file was meant to live on.
  if (lastOfOthers(target, op.links)) {
    throw new BusyError(`${where(parent, op.name)} is the last name of inode ${target.ino}, whose other names were removed concurrently: it stays`, { details: { parent: parent.ino, name: op.name } })
  }
  v.dropDentry(parent.ino, op.name)
  update(v, parent.ino, r => touchDir(r, op.time, -1, 0))
  const rec = update(v, target.ino, r => ({ ...r, nlink: r.nlink - 1, ctimeNs: op.time }))
  return { rec }
}

/** A file down to its last name whose op's author saw `links` (> 1) names: removing it would drop what its author meant to keep. */
function lastOfOthers (target: InodeRec, links: number | undefined): boolean {
  return links !== undefined && links > 1 && target.type === 'file' && target.nlink === 1
}

/** Removes an empty directory's inode (rmdir, or replaced by rename), noting where it was (revive.ts). */
function dropDir (v: ApplyView, dir: InodeRec, parent: InodeRec, name: string, time: bigint): void {
  noteRemovedDir(v, dir, parent, name, time)
  dropXattrs(v, dir.ino)
  v.dropInode(dir)
  v.count(0, -1, 0)
}

export function applyRmdir (v: ApplyView, op: OpOf<'rmdir'>): ApplyResult {
  const parent = dirRec(v, op.parent, 'parent directory')
  checkName(op.name)
  const [, dir] = entry(v, parent, op.name, op.node)
  if (dir.type !== 'dir') throw new NotDirectoryError(`${where(parent, op.name)} is not a directory: use unlink`, { details: { parent: parent.ino, name: op.name } })
  if (dir.entries > 0) throw new NotEmptyError(`directory ${where(parent, op.name)} is not empty (${dir.entries} entries)`, { details: { parent: parent.ino, name: op.name } })
  v.dropDentry(parent.ino, op.name)
  dropDir(v, dir, parent, op.name, op.time)
  update(v, parent.ino, r => touchDir(r, op.time, -1, -1))
  return {}
}

/** InvalidArgumentError if `dir` is `ancestor` or lies below it (walks parent pointers up to the root). */
function checkNotInside (v: ApplyView, dir: InodeRec, ancestor: InodeRec): void {
  let cur: InodeRec | undefined = dir
  for (let depth = 0; cur != null; depth++) {
    if (cur.ino === ancestor.ino) {
      throw new InvalidArgumentError(`cannot move directory inode ${ancestor.ino} into itself or one of its subdirectories (inode ${dir.ino})`, { details: { ino: ancestor.ino, into: dir.ino } })
    }
    if (cur.node === ROOT_NODE || cur.parent === cur.ino || depth > 1_000_000) return
    cur = v.inode(cur.parent)
  }
}

export function applyRename (v: ApplyView, op: OpOf<'rename'>): ApplyResult {
  const p1 = dirRec(v, op.parent, 'source directory')
  const p2 = dirRec(v, op.newParent, 'target directory')
  checkName(op.name)
  checkName(op.newName)
  if (op.mode !== 'replace' && op.mode !== 'noreplace' && op.mode !== 'exchange') throw new InvalidArgumentError(`unknown rename mode ${JSON.stringify(op.mode)}`)
  const [d1, s] = entry(v, p1, op.name, op.node)
  const d2 = v.dentry(p2.ino, op.newName)
  if (op.mode === 'exchange' && d2 == null) throw new NotFoundError(`${where(p2, op.newName)} does not exist: nothing to exchange with`, { details: { parent: p2.ino, name: op.newName } })
  if (op.mode === 'noreplace' && d2 != null) throw new ExistsError(`${where(p2, op.newName)} already exists`, { details: { parent: p2.ino, name: op.newName } })
  // Two names of one inode (or the same name): POSIX says succeed and do nothing.
  if (d2 != null && d2.ino === d1.ino) return {}
  const t = d2 == null ? undefined : v.inode(d2.ino)
  if (d2 != null && t == null) throw new NotFoundError(`${where(p2, op.newName)} names a missing inode ${d2.ino}: run \`palm fsck\``)
  // Replace only the node its author saw there: another one came from a concurrent change.
  // (An op logged before renames carried `replaces` replaces whatever is there, as it did then.)
  if (t != null && op.mode !== 'noreplace' && op.replaces !== undefined && t.node !== op.replaces && (op.replaces === '' || v.inoOf(op.replaces) !== t.ino)) {
    throw new ExistsError(`${where(p2, op.newName)} holds node ${t.node}, not ${String(op.replaces)} that the rename expected`, { details: { parent: p2.ino, name: op.newName } })
  }
  if (t?.type === 'file' && ((op.replacesVer !== undefined && (t.ver ?? '') !== op.replacesVer) || lastOfOthers(t, op.replacesLinks))) {
    throw new ExistsError(`${where(p2, op.newName)} was written or unlinked concurrently (version ${t.ver ?? 'none'}, ${t.nlink} names; the rename saw ${op.replacesVer || 'none'}, ${op.replacesLinks ?? 1}): it is not replaced`, { details: { parent: p2.ino, name: op.newName } })
  }
  const sDir = s.type === 'dir'
  const tDir = t?.type === 'dir'
  if (sDir && p1.ino !== p2.ino) checkNotInside(v, p2, s)
  if (op.mode === 'exchange') return exchange(v, op, p1, p2, d1, d2 as DentryRec, s, t as InodeRec)

  if (t != null) {
    if (sDir && !tDir) throw new NotDirectoryError(`cannot replace non-directory ${where(p2, op.newName)} by a directory`, { details: { parent: p2.ino, name: op.newName } })
    if (!sDir && tDir) throw new IsDirectoryError(`cannot replace directory ${where(p2, op.newName)} by a non-directory`, { details: { parent: p2.ino, name: op.newName } })
    if (tDir && t.entries > 0) throw new NotEmptyError(`cannot replace directory ${where(p2, op.newName)}: it is not empty`, { details: { parent: p2.ino, name: op.newName } })
  }
  if (sDir && p1.ino !== p2.ino && t == null) checkLinks(p2, 1)
  let replaced: InodeRec | undefined
  v.dropDentry(p1.ino, op.name)
  if (t != null) {
    v.dropDentry(p2.ino, op.newName)
    if (tDir) {
      dropDir(v, t, p2, op.newName, op.time)
      replaced = { ...t, nlink: 0, ctimeNs: op.time }
      update(v, p2.ino, r => touchDir(r, op.time, -1, -1))
    } else {
      replaced = update(v, t.ino, r => ({ ...r, nlink: r.nlink - 1, ctimeNs: op.time }))
      update(v, p2.ino, r => touchDir(r, op.time, -1, 0))
    }
  }
  // A new entry gets a new readdir cookie: a moved name may be seen again or not by a concurrent
  // readdir (POSIX allows either), but no surviving entry is ever skipped or repeated.
  v.putDentry({ parent: p2.ino, name: op.newName, ino: s.ino, type: s.type, cookie: v.allocCookie() })
  update(v, p1.ino, r => touchDir(r, op.time, -1, sDir ? -1 : 0))
  update(v, p2.ino, r => touchDir(r, op.time, 1, sDir ? 1 : 0))
  const rec = update(v, s.ino, r => ({ ...r, ctimeNs: op.time, parent: sDir ? p2.ino : r.parent }))
  return replaced == null ? { rec } : { rec, replaced }
}

/** RENAME_EXCHANGE: both names stay (with their cookies); the inodes behind them swap. */
function exchange (v: ApplyView, op: OpOf<'rename'>, p1: InodeRec, p2: InodeRec, d1: DentryRec, d2: DentryRec, s: InodeRec, t: InodeRec): ApplyResult {
  const sDir = s.type === 'dir'
  const tDir = t.type === 'dir'
  if (tDir && p1.ino !== p2.ino) checkNotInside(v, p1, t)
  v.putDentry({ ...d1, ino: t.ino, type: t.type })
  v.putDentry({ ...d2, ino: s.ino, type: s.type })
  const moved = (sDir ? 1 : 0) - (tDir ? 1 : 0)
  if (p1.ino !== p2.ino && moved !== 0) {
    checkLinks(moved > 0 ? p2 : p1, 1)
  }
  update(v, p1.ino, r => touchDir(r, op.time, 0, p1.ino === p2.ino ? 0 : -moved))
  update(v, p2.ino, r => touchDir(r, op.time, 0, p1.ino === p2.ino ? 0 : moved))
  const rec = update(v, s.ino, r => ({ ...r, ctimeNs: op.time, parent: sDir ? p2.ino : r.parent }))
  update(v, t.ino, r => ({ ...r, ctimeNs: op.time, parent: tDir ? p1.ino : r.parent }))
  return { rec }
}
