/**
 * The JS end of the bridge: the addon calls `dispatch(slot, op, s1, s2, extra)` once per kernel
 * request with the numbers in the shared IN array; the matching FuseOps handler runs and its
 * settled promise becomes exactly one reply (values written to the shared OUT array, then one
 * reply call). Hot paths allocate only the context object and the handler's promise.
 */
import type { Logger } from '../../src/util/logger.js'
import * as C from './constants.js'
import type { NativeSession } from './load.js'
import type { FuseAttr, FuseContext, FuseDirent, FuseEntry, FuseOpenReply, FuseOps, FuseSetattr } from './types.js'

const { OP, SET_ATTR: SA } = C

/** Cache timeouts used when a reply does not give its own. */
export interface DispatchDefaults {
  entryTimeoutSec: number
  attrTimeoutSec: number
}

export interface Dispatcher {
  dispatch: (slot: number, op: number, s1: string | undefined, s2: string | undefined, extra: unknown) => void
  forget: (count: number) => void
  bind: (native: NativeSession) => void
}

/** What an op the file system left out answers (the addon does not even register it). */
async function enosys (): Promise<never> {
  throw Object.assign(new Error('the file system does not implement this op'), { errno: -C.ERRNO.ENOSYS })
}

function isDot (name: string): boolean {
  return name === '.' || name === '..'
}

export function createDispatcher (ops: FuseOps, defaults: DispatchDefaults, log: Logger): Dispatcher {
  let native!: NativeSession
  let IN = new Float64Array(0)
  let OUT = new Float64Array(0)
  let FORGET = new Float64Array(0)
  let dirNums = new Float64Array(C.DIRENT_STRIDE * 128)

  function writeAttr (a: FuseAttr, o: Float64Array, at: number): void {
    o[at] = a.ino
    o[at + 1] = a.mode
    o[at + 2] = a.nlink
    o[at + 3] = a.uid
    o[at + 4] = a.gid
    o[at + 5] = a.rdev
    o[at + 6] = a.size
    o[at + 7] = a.blocks
    o[at + 8] = a.atimeSec
    o[at + 9] = a.atimeNsec
    o[at + 10] = a.mtimeSec
    o[at + 11] = a.mtimeNsec
    o[at + 12] = a.ctimeSec
    o[at + 13] = a.ctimeNsec
  }

  function writeEntry (e: FuseEntry, o: Float64Array, at: number): void {
    writeAttr(e.attr, o, at)
    o[at + C.OUT_GEN] = e.generation ?? 0
    o[at + C.OUT_ENTRY_TIMEOUT] = e.entryTimeoutSec ?? defaults.entryTimeoutSec
    o[at + C.OUT_ATTR_TIMEOUT] = e.attrTimeoutSec ?? defaults.attrTimeoutSec
  }

  function writeOpen (r: FuseOpenReply): void {
    OUT[C.OUT_FH] = r.fh
    OUT[C.OUT_OPEN_FLAGS] = (r.directIo === true ? C.OPEN_DIRECT_IO : 0) |
      (r.keepCache === true ? C.OPEN_KEEP_CACHE : 0) | (r.nonSeekable === true ? C.OPEN_NONSEEKABLE : 0)
  }

  /** A handler's rejection as a negative errno; anything without one is logged and becomes EIO. */
  function errnoOf (err: unknown, op: number): number {
    if (err != null && typeof err === 'object' && 'errno' in err) {
      const n = err.errno
      if (typeof n === 'number' && Number.isInteger(n) && n !== 0 && Math.abs(n) < 4096) return n < 0 ? n : -n
    }
    log.error('fuse %s failed without an errno, answering EIO: %e', C.OP_NAMES[op], err)
    return -C.ERRNO.EIO
  }

  function fail (slot: number, err: unknown, op: number, data?: Uint8Array): void {
    native.replyErr(slot, errnoOf(err, op), data)
  }

  // One settle helper per reply kind. None of them rejects.
  async function entry (slot: number, op: number, p: Promise<FuseEntry>): Promise<void> {
    try { writeEntry(await p, OUT, 0); native.replyEntry(slot) } catch (err) { fail(slot, err, op) }
  }
  async function attr (slot: number, op: number, p: Promise<{ attr: FuseAttr, attrTimeoutSec?: number }>): Promise<void> {
    try {
      const r = await p
      writeAttr(r.attr, OUT, 0)
      OUT[C.OUT_ATTR_TIMEOUT] = r.attrTimeoutSec ?? defaults.attrTimeoutSec
      native.replyAttr(slot)
    } catch (err) { fail(slot, err, op) }
  }
  async function done (slot: number, op: number, p: Promise<void>): Promise<void> {
    try { await p; native.replyErr(slot, 0) } catch (err) { fail(slot, err, op) }
  }
  async function opened (slot: number, op: number, p: Promise<FuseOpenReply>): Promise<void> {
    try { writeOpen(await p); native.replyOpen(slot) } catch (err) { fail(slot, err, op) }
  }
  async function created (slot: number, p: ReturnType<FuseOps['create']>): Promise<void> {
    try {
      const r = await p
      writeEntry(r, OUT, 0)
      writeOpen(r)
      native.replyCreate(slot)
    } catch (err) { fail(slot, err, OP.create) }
  }
  async function bytes (slot: number, op: number, p: Promise<Uint8Array>): Promise<void> {
    try { native.replyBuf(slot, await p) } catch (err) { fail(slot, err, op) }
  }
  async function names (slot: number, p: Promise<string[]>): Promise<void> {
    try {
      const list = await p
      native.replyBuf(slot, list.length === 0 ? new Uint8Array(0) : Buffer.from(list.join('\0') + '\0'))
    } catch (err) { fail(slot, err, OP.listxattr) }
  }
  async function readlink (slot: number, p: Promise<string>): Promise<void> {
    try { native.replyReadlink(slot, await p) } catch (err) { fail(slot, err, OP.readlink) }
  }
  async function written (slot: number, p: Promise<number>, data: Uint8Array): Promise<void> {
    try { native.replyWrite(slot, await p, data) } catch (err) { fail(slot, err, OP.write, data) }
  }
  async function statfs (slot: number, p: ReturnType<FuseOps['statfs']>): Promise<void> {
    try {
      const s = await p
      OUT[0] = s.bsize; OUT[1] = s.frsize; OUT[2] = s.blocks; OUT[3] = s.bfree; OUT[4] = s.bavail
      OUT[5] = s.files; OUT[6] = s.ffree; OUT[7] = s.favail; OUT[8] = s.namemax
      native.replyStatfs(slot)
    } catch (err) { fail(slot, err, OP.statfs) }
  }

  /** Packs entries for the addon; readdirplus entries the kernel did not take are forgotten here. */
  async function readdir (slot: number, p: Promise<FuseDirent[]>, plus: boolean): Promise<void> {
    let list: FuseDirent[]
    try { list = await p } catch (err) { fail(slot, err, OP.readdir); return }
    let sent = -1
    try {
      const n = list.length
      if (dirNums.length < n * C.DIRENT_STRIDE) dirNums = new Float64Array(n * C.DIRENT_STRIDE * 2)
      const nameList = new Array<string>(n)
      for (let i = 0; i < n; i++) {
        const de = list[i]
        const b = i * C.DIRENT_STRIDE
        if (de.name === '' || de.name.includes('\0') || de.name.includes('/')) {
          throw new Error(`readdir returned an invalid name ${JSON.stringify(de.name)}`)
        }
        nameList[i] = de.name
        dirNums[b] = de.ino
        dirNums[b + 1] = de.mode
        dirNums[b + 2] = de.nextOffset
        dirNums[b + 3] = plus && de.entry != null ? 1 : 0
        if (plus && de.entry != null) writeEntry(de.entry, dirNums, b + 4)
      }
      sent = native.replyReaddir(slot, n, dirNums, nameList.join('\0'))
    } catch (err) {
      fail(slot, err, OP.readdir)
    }
    if (!plus) return
    for (let i = 0; i < list.length; i++) {
      const de = list[i]
      if (i >= sent && de.entry != null && !isDot(de.name)) forgetOne(de.entry.attr.ino, 1)
    }
  }

  function forgetOne (ino: number, n: number): void {
    try { ops.forget(ino, n) } catch (err) { log.error('fuse forget(%d, %d) threw: %e', ino, n, err) }
  }

  function setattrOf (): FuseSetattr {
    const v = IN[7]
    const set: FuseSetattr = {}
    if ((v & SA.MODE) !== 0) set.mode = IN[8]
    if ((v & SA.UID) !== 0) set.uid = IN[9]
    if ((v & SA.GID) !== 0) set.gid = IN[10]
    if ((v & SA.SIZE) !== 0) set.size = IN[11]
    if ((v & SA.ATIME_NOW) !== 0) set.atime = 'now'
    else if ((v & SA.ATIME) !== 0) set.atime = { sec: IN[12], nsec: IN[13] }
    if ((v & SA.MTIME_NOW) !== 0) set.mtime = 'now'
    else if ((v & SA.MTIME) !== 0) set.mtime = { sec: IN[14], nsec: IN[15] }
    if ((v & SA.CTIME) !== 0) set.ctime = { sec: IN[16], nsec: IN[17] }
    return set
  }

  function dispatch (slot: number, op: number, s1: string | undefined, s2: string | undefined, extra: unknown): void {
    const ctx: FuseContext = { uid: IN[0], gid: IN[1], pid: IN[2], umask: IN[3] }
    const a = s1 as string
    const fh = IN[6] === 1 ? IN[5] : undefined
    try {
      switch (op) {
        case OP.lookup: void entry(slot, op, ops.lookup(ctx, IN[4], a)); return
        case OP.getattr: void attr(slot, op, ops.getattr(ctx, IN[4], fh)); return
        case OP.setattr: void attr(slot, op, ops.setattr(ctx, IN[4], setattrOf(), fh)); return
        case OP.readlink: void readlink(slot, ops.readlink(ctx, IN[4])); return
        case OP.mknod: void entry(slot, op, ops.mknod(ctx, IN[4], a, IN[5], IN[6])); return
        case OP.mkdir: void entry(slot, op, ops.mkdir(ctx, IN[4], a, IN[5])); return
        case OP.unlink: void done(slot, op, ops.unlink(ctx, IN[4], a)); return
        case OP.rmdir: void done(slot, op, ops.rmdir(ctx, IN[4], a)); return
        case OP.symlink: void entry(slot, op, ops.symlink(ctx, a, IN[4], s2 as string)); return
        case OP.rename: void done(slot, op, ops.rename(ctx, IN[4], a, IN[5], s2 as string, IN[6])); return
        case OP.link: void entry(slot, op, ops.link(ctx, IN[4], IN[5], a)); return
        case OP.open: void opened(slot, op, ops.open(ctx, IN[4], IN[5])); return
        case OP.read: void bytes(slot, op, ops.read(ctx, IN[4], IN[5], IN[6], IN[7])); return
        case OP.write: void written(slot, ops.write(ctx, IN[4], IN[5], IN[6], extra as Uint8Array, IN[8]), extra as Uint8Array); return
        case OP.flush: void done(slot, op, ops.flush?.(ctx, IN[4], IN[5], extra as bigint) ?? enosys()); return
        case OP.release: void done(slot, op, ops.release(ctx, IN[4], IN[5], IN[6])); return
        case OP.fsync: void done(slot, op, ops.fsync?.(ctx, IN[4], IN[5], IN[6] !== 0) ?? enosys()); return
        case OP.opendir: void opened(slot, op, ops.opendir(ctx, IN[4], IN[5])); return
        case OP.readdir: void readdir(slot, ops.readdir(ctx, IN[4], IN[5], IN[6], IN[7], IN[8] !== 0), IN[8] !== 0); return
        case OP.releasedir: void done(slot, op, ops.releasedir(ctx, IN[4], IN[5])); return
        case OP.fsyncdir: void done(slot, op, ops.fsyncdir?.(ctx, IN[4], IN[5], IN[6] !== 0) ?? enosys()); return
        case OP.statfs: void statfs(slot, ops.statfs(ctx, IN[4])); return
        case OP.setxattr: void done(slot, op, ops.setxattr?.(ctx, IN[4], a, extra as Uint8Array, IN[5]) ?? enosys()); return
        case OP.getxattr: void bytes(slot, op, ops.getxattr?.(ctx, IN[4], a) ?? enosys()); return
        case OP.listxattr: void names(slot, ops.listxattr?.(ctx, IN[4]) ?? enosys()); return
        case OP.removexattr: void done(slot, op, ops.removexattr?.(ctx, IN[4], a) ?? enosys()); return
        case OP.access: void done(slot, op, ops.access?.(ctx, IN[4], IN[5]) ?? enosys()); return
        case OP.create: void created(slot, ops.create(ctx, IN[4], a, IN[5], IN[6])); return
        case OP.fallocate: void done(slot, op, ops.fallocate?.(ctx, IN[4], IN[5], IN[6], IN[7], IN[8]) ?? enosys()); return
        default: native.replyErr(slot, -C.ERRNO.ENOSYS)
      }
    } catch (err) {
      // the handler threw instead of rejecting
      fail(slot, err, op, op === OP.write ? extra as Uint8Array : undefined)
    }
  }

  function forget (count: number): void {
    for (let i = 0; i < count; i++) forgetOne(FORGET[2 * i], FORGET[2 * i + 1])
  }

  function bind (n: NativeSession): void {
    native = n
    IN = new Float64Array(n.inBuffer)
    OUT = new Float64Array(n.outBuffer)
    FORGET = new Float64Array(n.forgetBuffer)
  }

  return { dispatch, forget, bind }
}
