/**
 * A directory removed concurrently comes back (docs/journal.md, "Conflicts"). An rmdir, or a rename
 * over an empty directory, was valid where it was made: its author saw the directory empty. Another
 * device that had not seen it may have created, linked or moved something into it meanwhile. When
 * such an op is applied after the removal in total order, the directory is made again from where it
 * was (`R<node>`, written by the removal): same node id, same name in the same parent (brought back
 * first if it was removed too; the root if it is unknown), or a conflict name if that name is taken
 * now. As in Syncthing and the move operation of Kleppmann et al. (whose deletes are moves to a
 * trash node), nothing made in a directory is lost because the directory was removed elsewhere.
 */
import { ROOT_NODE } from './constants.js'
import { freeName } from './conflict-name.js'
import type { InodeRec } from './records.js'
import { touchDir, update } from './apply.js'
import type { ApplyView } from './view.js'

/** Removed directories brought back for one op, at most (a chain of removed ancestors). */
const MAX_DEPTH = 64

/** Records where a directory that is being removed was (in `parent` under `name`), at `time`. */
export function noteRemovedDir (v: ApplyView, dir: InodeRec, parent: InodeRec, name: string, time: bigint): void {
  v.putRemovedDir(dir.node, { parent: parent.node, name, mode: dir.mode, uid: dir.uid, gid: dir.gid, mtime: dir.mtimeNs.toString(), removed: time.toString() })
}

/**
 * The directory `node`, brought back at `time` if it was removed; undefined when it is not a
 * directory here and no removal of it is known.
 */
export function reviveDir (v: ApplyView, node: string, time: bigint, depth = 0): InodeRec | undefined {
  const ino = v.inoOf(node)
  const cur = ino === undefined ? undefined : v.inode(ino)
  if (cur != null) return cur.type === 'dir' ? cur : undefined
  const was = depth > MAX_DEPTH ? undefined : v.removedDir(node)
  if (was == null) return undefined
  if ('into' in was) {
    // An mkdir merged into another device's directory, which was removed: that one comes back,
    // and this id names it again.
    const into = reviveDir(v, was.into, time, depth + 1)
    if (into != null) v.repointAlias(node, into.ino)
    return into
  }
  const parent = reviveDir(v, was.parent, time, depth + 1) ?? rootDir(v)
  const author = node.slice(node.indexOf('@') + 1)
  const name = freeName(n => v.dentry(parent.ino, n) != null, was.name, author, BigInt(was.removed))
  if (name === undefined) return undefined
  const rec: InodeRec = {
    ino: v.allocIno(node),
    node,
    type: 'dir',
    mode: was.mode,
    uid: was.uid,
    gid: was.gid,
    nlink: 2,
    size: 0,
    rdev: 0,
    atimeNs: BigInt(was.mtime),
    mtimeNs: BigInt(was.mtime),
    ctimeNs: time,
    parent: parent.ino,
    entries: 0,
    stripeSize: 0
  }
  v.putInode(rec)
  v.putDentry({ parent: parent.ino, name, ino: rec.ino, type: 'dir', cookie: v.allocCookie() })
  update(v, parent.ino, r => touchDir(r, time, 1, 1))
  v.count(0, 1, 0)
  v.putRemovedDir(node, undefined)
  return rec
}

/** The directory `node` (brought back if removed), or the root when it is gone for good. */
export function dirOrRoot (v: ApplyView, node: string, time: bigint): InodeRec {
  return reviveDir(v, node, time) ?? rootDir(v)
}

function rootDir (v: ApplyView): InodeRec {
  return v.inode(v.inoOf(ROOT_NODE) as number) as InodeRec
}
