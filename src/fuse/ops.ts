/**
 * FUSE operations → VFS calls. One thin handler per op, all through `call`, which gives the op a
 * deadline signal, awaits the VFS, maps errors with `toErrno` (the only errno map), and writes one
 * trace line per op (op, inode/name, errno, ms) plus a log line for slow ops. The binding answers the
 * kernel exactly once per request; a VFS call still running at its deadline is answered EIO and its
 * late result dropped.
 */
import type { Logger } from '@libp2p/interface'
import type { FuseContext, FuseDirent, FuseEntry, FuseOps } from '../../native/fuse/types.js'
import type { Attr } from '../meta/types.js'
import type { Vfs, VfsContext } from '../vfs/types.js'
import { toFuseAttr, toVfsSetattr, typeBits } from './attr.js'
import { errnoName, toErrno } from './errno.js'
import { DEADLINE_PASSED, OpDeadlines } from './op-deadlines.js'

export interface FuseOpsInit {
  /** Kernel cache timeouts for names and attributes, seconds (default 1). */
  entryTimeoutSec?: number
  attrTimeoutSec?: number
  /** Deadline of one op, ms (default 30 000); flush, fsync, release and fallocate get 4×. */
  opTimeoutMs?: number
  /** Ops slower than this are logged (default 1000 ms). */
  slowOpMs?: number
  /** Bytes one readdir entry takes in the reply (from the binding), to fill `size` exactly. */
  direntSize: (name: string, plus: boolean) => number
}

/** A rejection the binding understands: a negative errno. One shared instance per errno (see `of`). */
export class FuseErrno extends Error {
  readonly errno: number
  constructor (errno: number) {
    super(errnoName(errno))
    this.errno = errno
  }

  static readonly #shared = new Map<number, FuseErrno>()

  /**
   * The shared instance for `errno`: the binding reads only `errno`, so routine failures (ENOENT
   * of lookups: rsync, git and editors make many) allocate nothing and capture no stack.
   */
  static of (errno: number): FuseErrno {
    let e = FuseErrno.#shared.get(errno)
    if (e == null) FuseErrno.#shared.set(errno, e = new FuseErrno(errno))
    return e
  }
}

const LONG_OPS = new Set(['flush', 'fsync', 'release', 'fallocate', 'fsyncdir'])
const EIO = -5

/** What an op is about, for log lines: built only when a line is written. */
type What = () => string

const DEFAULT_OP_TIMEOUT_MS = 30_000

/** The deadline of the longest ops (flush, fsync, release, …): 4 × the op timeout (default 30 s). */
export function longOpTimeoutMs (opTimeoutMs = DEFAULT_OP_TIMEOUT_MS): number {
  return opTimeoutMs * 4
}

export function createFuseOps (vfs: Vfs, log: Logger, init: FuseOpsInit): FuseOps {
  const entryTimeoutSec = init.entryTimeoutSec ?? 1
  const attrTimeoutSec = init.attrTimeoutSec ?? 1
  const opTimeoutMs = init.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS
  const longOpMs = longOpTimeoutMs(opTimeoutMs)
  const slowOpMs = init.slowOpMs ?? 1000
  // Deadlines are checked a few times per op timeout (at most every 100 ms).
  const deadlines = new OpDeadlines({ sweepMs: Math.min(100, Math.max(1, opTimeoutMs / 4)), bucketMs: Math.min(1000, Math.max(1, opTimeoutMs / 4)) })
  const trace = log.trace as Logger['trace'] & { enabled?: boolean }

  function done (op: string, what: What, started: number, errno: number): void {
    const ms = performance.now() - started
    if (trace.enabled === true) trace('%s %s -> %s %s ms', op, what(), errno === 0 ? 'ok' : errnoName(errno), ms.toFixed(3))
    if (ms > slowOpMs) log('slow %s %s: %d ms (%s)', op, what(), Math.round(ms), errno === 0 ? 'ok' : errnoName(errno))
  }

  function failed (op: string, what: What, started: number, timeoutMs: number, err: unknown): FuseErrno {
    let errno: number
    if (err === DEADLINE_PASSED) {
      log.error('%s %s did not finish within %d ms: answered EIO (the operation may still complete; see earlier log lines for the device or fragment it waited on)', op, what(), timeoutMs)
      errno = EIO
    } else {
      errno = toErrno(err, log, () => `${op} ${what()}`)
      // EIO and friends are worth a line in the log with the reason; ENOENT on lookup is routine.
      if (errno === EIO) log.error('%s %s failed: %s', op, what(), (err as Error).message)
    }
    done(op, what, started, errno)
    return FuseErrno.of(errno)
  }

  /**
   * Runs one op under its deadline: the binding gets the VFS's answer, or EIO (and a log line) at the
   * deadline, whichever comes first; errors are mapped by toErrno. One trace line per op.
   */
  async function call<T> (op: string, what: What, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const started = performance.now()
    const timeoutMs = LONG_OPS.has(op) ? longOpMs : opTimeoutMs
    let value: T
    try {
      value = await deadlines.run(timeoutMs, fn)
    } catch (err) {
      throw failed(op, what, started, timeoutMs, err)
    }
    done(op, what, started, 0)
    return value
  }

  const ctxOf = (c: FuseContext): VfsContext => c
  const entry = (attr: Attr): FuseEntry => ({ attr: toFuseAttr(attr), entryTimeoutSec, attrTimeoutSec })

  return {
    lookup: async (c, parent, name) => await call('lookup', () => `${parent}/${name}`, async signal => entry(await vfs.lookup(ctxOf(c), parent, name, { signal }))),
    forget: (ino, nlookup) => { void vfs.forget(ino, nlookup) },
    getattr: async (c, ino, fh) => await call('getattr', () => String(ino), async signal => ({ attr: toFuseAttr(await vfs.getattr(ctxOf(c), ino, fh, { signal })), attrTimeoutSec })),
    setattr: async (c, ino, set, fh) => await call('setattr', () => String(ino), async signal => ({ attr: toFuseAttr(await vfs.setattr(ctxOf(c), ino, toVfsSetattr(set), fh, { signal })), attrTimeoutSec })),
    readlink: async (c, ino) => await call('readlink', () => String(ino), async signal => await vfs.readlink(ctxOf(c), ino, { signal })),
    mknod: async (c, parent, name, mode, rdev) => await call('mknod', () => `${parent}/${name}`, async signal => entry(await vfs.mknod(ctxOf(c), parent, name, mode, rdev, { signal }))),
    mkdir: async (c, parent, name, mode) => await call('mkdir', () => `${parent}/${name}`, async signal => entry(await vfs.mkdir(ctxOf(c), parent, name, mode, { signal }))),
    unlink: async (c, parent, name) => { await call('unlink', () => `${parent}/${name}`, async signal => { await vfs.unlink(ctxOf(c), parent, name, { signal }) }) },
    rmdir: async (c, parent, name) => { await call('rmdir', () => `${parent}/${name}`, async signal => { await vfs.rmdir(ctxOf(c), parent, name, { signal }) }) },
    symlink: async (c, target, parent, name) => await call('symlink', () => `${parent}/${name}`, async signal => entry(await vfs.symlink(ctxOf(c), target, parent, name, { signal }))),
    rename: async (c, parent, name, newParent, newName, flags) => { await call('rename', () => `${parent}/${name} -> ${newParent}/${newName}`, async signal => { await vfs.rename(ctxOf(c), parent, name, newParent, newName, flags, { signal }) }) },
    link: async (c, ino, newParent, newName) => await call('link', () => `${ino} -> ${newParent}/${newName}`, async signal => entry(await vfs.link(ctxOf(c), ino, newParent, newName, { signal }))),
    open: async (c, ino, flags) => await call('open', () => String(ino), async signal => await vfs.open(ctxOf(c), ino, flags, { signal })),
    read: async (c, ino, fh, offset, size) => await call('read', () => String(ino), async signal => await vfs.read(ctxOf(c), ino, fh, offset, size, { signal })),
    write: async (c, ino, fh, offset, data, flags) => await call('write', () => String(ino), async signal => await vfs.write(ctxOf(c), ino, fh, offset, data, flags, { signal })),
    flush: async (c, ino, fh, lockOwner) => { await call('flush', () => String(ino), async signal => { await vfs.flush(ctxOf(c), ino, fh, lockOwner, { signal }) }) },
    release: async (c, ino, fh, flags) => { await call('release', () => String(ino), async signal => { await vfs.release(ctxOf(c), ino, fh, flags, { signal }) }) },
    fsync: async (c, ino, fh, datasync) => { await call('fsync', () => String(ino), async signal => { await vfs.fsync(ctxOf(c), ino, fh, datasync, { signal }) }) },
    opendir: async (c, ino, flags) => await call('opendir', () => String(ino), async signal => await vfs.opendir(ctxOf(c), ino, flags, { signal })),
    readdir: async (c, ino, fh, offset, size, plus) => await call('readdir', () => String(ino), async signal => {
      // Ask for about as many entries as can fit, then keep exactly those that do.
      const limit = Math.max(1, Math.floor(size / (plus ? 160 : 32)))
      const list = await vfs.readdir(ctxOf(c), ino, fh, offset, limit, plus, { signal })
      const out: FuseDirent[] = []
      let used = 0
      for (const d of list) {
        used += init.direntSize(d.name, plus)
        if (used > size) break
        const dirent: FuseDirent = { name: d.name, ino: d.ino, mode: typeBits(d.type), nextOffset: d.nextOffset }
        if (plus && d.attr != null) {
          dirent.entry = entry(d.attr)
          if (d.countsLookup === true) vfs.rememberLookup(d.ino)
        }
        out.push(dirent)
      }
      return out
    }),
    releasedir: async (c, ino, fh) => { await call('releasedir', () => String(ino), async signal => { await vfs.releasedir(ctxOf(c), ino, fh, { signal }) }) },
    fsyncdir: async (c, ino, fh, datasync) => { await call('fsyncdir', () => String(ino), async signal => { await vfs.fsyncdir(ctxOf(c), ino, fh, datasync, { signal }) }) },
    statfs: async (c, ino) => await call('statfs', () => String(ino), async signal => await vfs.statfs(ctxOf(c), ino, { signal })),
    setxattr: async (c, ino, name, value, flags) => { await call('setxattr', () => `${ino} ${name}`, async signal => { await vfs.setxattr(ctxOf(c), ino, name, value, flags, { signal }) }) },
    getxattr: async (c, ino, name) => await call('getxattr', () => `${ino} ${name}`, async signal => await vfs.getxattr(ctxOf(c), ino, name, { signal })),
    listxattr: async (c, ino) => await call('listxattr', () => String(ino), async signal => await vfs.listxattr(ctxOf(c), ino, { signal })),
    removexattr: async (c, ino, name) => { await call('removexattr', () => `${ino} ${name}`, async signal => { await vfs.removexattr(ctxOf(c), ino, name, { signal }) }) },
    access: async (c, ino, mask) => { await call('access', () => String(ino), async signal => { await vfs.access(ctxOf(c), ino, mask, { signal }) }) },
    create: async (c, parent, name, mode, flags) => await call('create', () => `${parent}/${name}`, async signal => {
      const r = await vfs.create(ctxOf(c), parent, name, mode, flags, { signal })
      return { ...entry(r.attr), fh: r.fh, keepCache: r.keepCache }
    }),
    fallocate: async (c, ino, fh, mode, offset, length) => { await call('fallocate', () => String(ino), async signal => { await vfs.fallocate(ctxOf(c), ino, fh, mode, offset, length, { signal }) }) }
  }
}
