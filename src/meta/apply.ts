/**
 * Deterministic application of one op to the materialised tree: validation (POSIX rules) and the
 * resulting record changes. The same function serves local calls and, later, ops from other devices
 * applied in (hlc, author, seq) order, so every device derives the same tree from the same log.
 * It reads no clock and allocates only local numbers (ino, readdir cookie).
 */
import { IsDirectoryError, NotDirectoryError, NotFoundError, InvalidArgumentError } from '../errors.js'
import { applyCreate, applyLink, applyRename, applyRmdir, applyUnlink } from './apply-entries.js'
import { applyRelease, applyRemoveXattr, applySetattr, applySetContent, applySetXattr } from './apply-content.js'
import type { Op } from './op.js'
import { applyAdmit, applyRemoveDevice, applyKeyEpoch, applySetDomain } from './apply-admit.js'
import { applyHolders } from './apply-holders.js'
import { applyReencode } from './apply-reencode.js'
import type { InodeRec } from './records.js'
import type { ApplyView } from './view.js'

/** What applying an op produced: the inode(s) the caller reports back. */
export interface ApplyResult {
  /** The inode the op was about, after the op (absent for rmdir and release). */
  rec?: InodeRec
  /** rename: the inode whose name was replaced, after the op (nlink may be 0). */
  replaced?: InodeRec
}

export function applyOp (v: ApplyView, op: Op): ApplyResult {
  switch (op.kind) {
    case 'create': return applyCreate(v, op)
    case 'link': return applyLink(v, op)
    case 'unlink': return applyUnlink(v, op)
    case 'rmdir': return applyRmdir(v, op)
    case 'rename': return applyRename(v, op)
    case 'setattr': return applySetattr(v, op)
    case 'setContent': return applySetContent(v, op)
    case 'setxattr': return applySetXattr(v, op)
    case 'removexattr': return applyRemoveXattr(v, op)
    case 'release': return applyRelease(v, op)
    case 'admit': return applyAdmit(v, op)
    case 'removeDevice': return applyRemoveDevice(v, op)
    case 'keyEpoch': return applyKeyEpoch(v, op)
    case 'setDomain': return applySetDomain(v, op)
    case 'holders': return applyHolders(v, op)
    case 'reencode': return applyReencode(v, op)
    default: throw new InvalidArgumentError(`unknown journal op kind ${JSON.stringify((op as { kind: unknown }).kind)}: upgrade PALM`)
  }
}

/** The inode of a node id; NotFoundError naming `what` if it is gone. */
export function nodeRec (v: ApplyView, node: string, what: string): InodeRec {
  const ino = v.inoOf(node)
  const rec = ino === undefined ? undefined : v.inode(ino)
  if (rec == null) throw new NotFoundError(`${what} (node ${node}) does not exist: it was removed`, { details: { node } })
  return rec
}

/** The directory of a node id; NotFoundError or NotDirectoryError. */
export function dirRec (v: ApplyView, node: string, what: string): InodeRec {
  const rec = nodeRec(v, node, what)
  if (rec.type !== 'dir') throw new NotDirectoryError(`${what} (inode ${rec.ino}) is not a directory`, { details: { ino: rec.ino } })
  return rec
}

/** A regular file (for content and size changes). */
export function fileRec (v: ApplyView, node: string, what: string): InodeRec {
  const rec = nodeRec(v, node, what)
  if (rec.type === 'dir') throw new IsDirectoryError(`inode ${rec.ino} is a directory: ${what} needs a regular file`, { details: { ino: rec.ino } })
  if (rec.type !== 'file') throw new InvalidArgumentError(`inode ${rec.ino} is a ${rec.type}: ${what} needs a regular file`, { details: { ino: rec.ino } })
  return rec
}

/** Replaces the inode `ino` by `fn(current)` (records are immutable). */
export function update (v: ApplyView, ino: number, fn: (r: InodeRec) => InodeRec): InodeRec {
  const cur = v.inode(ino)
  if (cur == null) throw new NotFoundError(`inode ${ino} vanished while applying an op`)
  const next = fn(cur)
  v.putInode(next)
  return next
}

/** A directory after an entry change: mtime and ctime set to `time`. */
export function touchDir (r: InodeRec, time: bigint, entries: number, links: number): InodeRec {
  return { ...r, entries: r.entries + entries, nlink: r.nlink + links, mtimeNs: time, ctimeNs: time }
}
