/**
 * Conversions between PALM's attributes (bigint ns times, a file type) and the binding's struct stat
 * shape (type bits in mode, seconds + nanoseconds).
 */
import type { FuseAttr, FuseSetattr, FuseTimeSet } from '../../native/fuse/types.js'
import type { Attr, FileType } from '../meta/types.js'
import type { VfsSetattr, VfsTimeSet } from '../vfs/types.js'
import { joinNs, splitNs } from '../util/ns-time.js'

export const S_IFMT = 0o170000
const TYPE_BITS: Record<FileType, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  fifo: 0o010000,
  socket: 0o140000,
  char: 0o020000,
  block: 0o060000
}

export function typeBits (type: FileType): number {
  return TYPE_BITS[type]
}

export function toFuseAttr (a: Attr): FuseAttr {
  const [atimeSec, atimeNsec] = splitNs(a.atimeNs)
  const [mtimeSec, mtimeNsec] = splitNs(a.mtimeNs)
  const [ctimeSec, ctimeNsec] = splitNs(a.ctimeNs)
  return {
    ino: a.ino,
    mode: TYPE_BITS[a.type] | (a.mode & 0o7777),
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    rdev: a.rdev,
    size: a.size,
    blocks: Math.ceil(a.size / 512),
    atimeSec,
    atimeNsec,
    mtimeSec,
    mtimeNsec,
    ctimeSec,
    ctimeNsec
  }
}

function timeSet (t: FuseTimeSet | undefined): VfsTimeSet | undefined {
  if (t == null) return undefined
  if (t === 'now') return 'now'
  return joinNs(Math.trunc(t.sec), Math.trunc(t.nsec))
}

export function toVfsSetattr (s: FuseSetattr): VfsSetattr {
  const out: VfsSetattr = {}
  if (s.mode != null) out.mode = s.mode & 0o7777
  if (s.uid != null) out.uid = s.uid
  if (s.gid != null) out.gid = s.gid
  if (s.size != null) out.size = s.size
  const atime = timeSet(s.atime)
  if (atime != null) out.atime = atime
  const mtime = timeSet(s.mtime)
  if (mtime != null) out.mtime = mtime
  if (s.ctime != null) out.ctimeNs = joinNs(Math.trunc(s.ctime.sec), Math.trunc(s.ctime.nsec))
  return out
}
