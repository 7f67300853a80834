/**
 * A small in-memory file system on the FUSE binding's low-level ops, for the binding's tests and
 * benchmark. It keeps POSIX semantics the tests check (hard links, rename flags, ns times, sparse
 * 64-bit offsets, xattrs), counts what the kernel sends (write sizes, lookups vs forgets), and can
 * delay replies (jitter) or never answer reads of files named "hang*" (until released).
 * Inode numbers and file handles start above 2^32 to prove they travel as 64-bit values.
 */
import { direntSize, RENAME_EXCHANGE, RENAME_NOREPLACE } from '../../native/fuse/index.js'
import type { OPTIONAL_OPS } from '../../native/fuse/constants.js'
import type {
  FuseAttrReply, FuseContext, FuseCreateReply, FuseDirent, FuseEntry, FuseOpenReply, FuseOps, FuseSetattr, FuseStatfs
} from '../../native/fuse/index.js'
import {
  S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, attrOf, entryOf, fsErr, now, readData, truncateData, writeData, type MemNode
} from './memfs-node.js'

export interface MemFsOptions {
  /** Delay each reply by 0–2 ms at random so replies come back out of order. */
  jitter?: boolean
  /** readdir returns twice what fits, to exercise the binding's overflow handling. */
  overfill?: boolean
  /** Optional ops to leave out, e.g. ['flush'] (like bindfs: close(2) then costs no round trip). */
  without?: Array<typeof OPTIONAL_OPS[number]>
}

/** What the file system has seen; sent to tests over IPC. */
export interface MemFsStats {
  ops: number
  writes: number
  writeMin: number
  writeMax: number
  writeBytes: number
  lastWriteOffset: number
  reads: number
  readMax: number
  pendingHangs: number
  /** Entries readdir returned in total (with `overfill`, more than the kernel took). */
  readdirEntries: number
  /** Sum of kernel lookup references over all inodes but the root. */
  lookups: number
  forgetUnderflows: number
  nodes: number
  openHandles: number
}

const FIRST_INO = 2 ** 33
const FIRST_FH = 2 ** 40 + 7

export class MemFs implements FuseOps {
  readonly nodes = new Map<number, MemNode>()
  readonly handles = new Map<number, number>()
  readonly stats: MemFsStats = {
    ops: 0, writes: 0, writeMin: Infinity, writeMax: 0, writeBytes: 0, lastWriteOffset: -1, reads: 0,
    readMax: 0, pendingHangs: 0, readdirEntries: 0, lookups: 0, forgetUnderflows: 0, nodes: 0, openHandles: 0
  }

  readonly #opts: MemFsOptions
  #nextIno = FIRST_INO
  #nextFh = FIRST_FH
  #hung: Array<() => void> = []

  constructor (opts: MemFsOptions = {}) {
    this.#opts = opts
    for (const name of opts.without ?? []) (this as unknown as Record<string, unknown>)[name] = undefined
    this.#add(1, S_IFDIR | 0o755, 0, 0, 1)
  }

  snapshot (): MemFsStats {
    let lookups = 0
    for (const n of this.nodes.values()) if (n.ino !== 1) lookups += n.lookups
    return { ...this.stats, lookups, nodes: this.nodes.size, openHandles: this.handles.size, pendingHangs: this.#hung.length }
  }

  /** The inode named `name` in the root directory (for server-side changes in tests). */
  rootChild (name: string): MemNode {
    return this.#child(1, name)
  }

  /** Lets every hung read answer (late: the session may be gone by then). */
  releaseHangs (): void {
    for (const r of this.#hung.splice(0)) r()
  }

  #add (ino: number, mode: number, uid: number, gid: number, parent: number): MemNode {
    const t = now()
    const n: MemNode = {
      ino, mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, uid, gid, rdev: 0, size: 0,
      atime: t, mtime: t, ctime: t, nextCookie: 3, parent, xattrs: new Map(), lookups: 0, opens: 0, hang: false
    }
    if ((mode & S_IFMT) === S_IFDIR) n.entries = new Map()
    this.nodes.set(ino, n)
    return n
  }

  #node (ino: number): MemNode {
    const n = this.nodes.get(ino)
    if (n == null) throw fsErr('ESTALE')
    return n
  }

  #dir (ino: number): MemNode & { entries: NonNullable<MemNode['entries']> } {
    const n = this.#node(ino)
    if (n.entries == null) throw fsErr('ENOTDIR')
    return n as MemNode & { entries: NonNullable<MemNode['entries']> }
  }

  #child (parent: number, name: string): MemNode {
    const e = this.#dir(parent).entries.get(name)
    if (e == null) throw fsErr('ENOENT')
    return this.#node(e.ino)
  }

  #link (dir: MemNode & { entries: NonNullable<MemNode['entries']> }, name: string, ino: number): void {
    if (Buffer.byteLength(name) > 255) throw fsErr('ENAMETOOLONG')
    dir.entries.set(name, { ino, cookie: dir.nextCookie++ })
    dir.mtime = dir.ctime = now()
  }

  #create (ctx: FuseContext, parent: number, name: string, mode: number): MemNode {
    const dir = this.#dir(parent)
    if (dir.entries.has(name)) throw fsErr('EEXIST')
    const n = this.#add(this.#nextIno++, mode, ctx.uid, ctx.gid, parent)
    n.hang = name.startsWith('hang')
    this.#link(dir, name, n.ino)
    if ((mode & S_IFMT) === S_IFDIR) dir.nlink++
    return n
  }

  #maybeFree (n: MemNode): void {
    if (n.nlink === 0 && n.lookups === 0 && n.opens === 0 && n.ino !== 1) this.nodes.delete(n.ino)
  }

  async #settle (): Promise<void> {
    this.stats.ops++
    if (this.#opts.jitter === true) await new Promise(resolve => setTimeout(resolve, Math.random() * 2))
  }

  async lookup (_ctx: FuseContext, parent: number, name: string): Promise<FuseEntry> {
    await this.#settle()
    if (name === '.') return entryOf(this.#dir(parent))
    if (name === '..') return entryOf(this.#node(this.#dir(parent).parent))
    return entryOf(this.#child(parent, name))
  }

  forget (ino: number, nlookup: number): void {
    const n = this.nodes.get(ino)
    if (n == null) { this.stats.forgetUnderflows++; return }
    n.lookups -= nlookup
    if (n.lookups < 0) { this.stats.forgetUnderflows++; n.lookups = 0 }
    this.#maybeFree(n)
  }

  async getattr (_ctx: FuseContext, ino: number): Promise<FuseAttrReply> {
    await this.#settle()
    return { attr: attrOf(this.#node(ino)) }
  }

  async setattr (_ctx: FuseContext, ino: number, set: FuseSetattr): Promise<FuseAttrReply> {
    await this.#settle()
    const n = this.#node(ino)
    const t = now()
    if (set.mode !== undefined) n.mode = (n.mode & S_IFMT) | (set.mode & 0o7777)
    if (set.uid !== undefined) n.uid = set.uid
    if (set.gid !== undefined) n.gid = set.gid
    if (set.size !== undefined) {
      if (n.entries != null) throw fsErr('EISDIR')
      truncateData(n, set.size)
      n.mtime = t
    }
    if (set.atime !== undefined) n.atime = set.atime === 'now' ? t : [set.atime.sec, set.atime.nsec]
    if (set.mtime !== undefined) n.mtime = set.mtime === 'now' ? t : [set.mtime.sec, set.mtime.nsec]
    n.ctime = set.ctime !== undefined ? [set.ctime.sec, set.ctime.nsec] : t
    return { attr: attrOf(n) }
  }

  async readlink (_ctx: FuseContext, ino: number): Promise<string> {
    await this.#settle()
    const n = this.#node(ino)
    if (n.target === undefined) throw fsErr('EINVAL')
    return n.target
  }

  async mknod (ctx: FuseContext, parent: number, name: string, mode: number, rdev: number): Promise<FuseEntry> {
    await this.#settle()
    const n = this.#create(ctx, parent, name, (mode & S_IFMT) === 0 ? S_IFREG | mode : mode)
    n.rdev = rdev
    return entryOf(n)
  }

  async mkdir (ctx: FuseContext, parent: number, name: string, mode: number): Promise<FuseEntry> {
    await this.#settle()
    return entryOf(this.#create(ctx, parent, name, S_IFDIR | (mode & 0o7777)))
  }

  async unlink (_ctx: FuseContext, parent: number, name: string): Promise<void> {
    await this.#settle()
    const n = this.#child(parent, name)
    if (n.entries != null) throw fsErr('EISDIR')
    const dir = this.#dir(parent)
    dir.entries.delete(name)
    dir.mtime = dir.ctime = n.ctime = now()
    n.nlink--
    this.#maybeFree(n)
  }

  async rmdir (_ctx: FuseContext, parent: number, name: string): Promise<void> {
    await this.#settle()
    const n = this.#child(parent, name)
    if (n.entries == null) throw fsErr('ENOTDIR')
    if (n.entries.size > 0) throw fsErr('ENOTEMPTY')
    const dir = this.#dir(parent)
    dir.entries.delete(name)
    dir.nlink--
    dir.mtime = dir.ctime = now()
    n.nlink = 0
    this.#maybeFree(n)
  }

  async symlink (ctx: FuseContext, target: string, parent: number, name: string): Promise<FuseEntry> {
    await this.#settle()
    const n = this.#create(ctx, parent, name, S_IFLNK | 0o777)
    n.target = target
    n.size = Buffer.byteLength(target)
    return entryOf(n)
  }

  async rename (_ctx: FuseContext, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    await this.#settle()
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0 || flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) throw fsErr('EINVAL')
    const from = this.#dir(parent)
    const to = this.#dir(newParent)
    const src = this.#child(parent, name)
    const dstEntry = to.entries.get(newName)
    for (let p = newParent; src.entries != null && p !== 1; p = this.#node(p).parent) {
      if (p === src.ino) throw fsErr('EINVAL')
    }
    const t = now()
    if ((flags & RENAME_NOREPLACE) !== 0 && dstEntry != null) throw fsErr('EEXIST')
    if ((flags & RENAME_EXCHANGE) !== 0) {
      if (dstEntry == null) throw fsErr('ENOENT')
      const dst = this.#node(dstEntry.ino)
      from.entries.set(name, { ino: dst.ino, cookie: from.entries.get(name)?.cookie ?? 0 })
      to.entries.set(newName, { ino: src.ino, cookie: dstEntry.cookie })
      if (parent !== newParent) {
        if (src.entries != null) { src.parent = newParent; from.nlink--; to.nlink++ }
        if (dst.entries != null) { dst.parent = parent; to.nlink--; from.nlink++ }
      }
      src.ctime = dst.ctime = from.mtime = from.ctime = to.mtime = to.ctime = t
      return
    }
    if (dstEntry != null) {
      if (dstEntry.ino === src.ino) return
      const dst = this.#node(dstEntry.ino)
      if (src.entries != null && dst.entries == null) throw fsErr('ENOTDIR')
      if (src.entries == null && dst.entries != null) throw fsErr('EISDIR')
      if (dst.entries != null && dst.entries.size > 0) throw fsErr('ENOTEMPTY')
      to.entries.delete(newName)
      if (dst.entries != null) { dst.nlink = 0; to.nlink-- } else dst.nlink--
      dst.ctime = t
      this.#maybeFree(dst)
    }
    from.entries.delete(name)
    this.#link(to, newName, src.ino)
    if (src.entries != null && parent !== newParent) { src.parent = newParent; from.nlink--; to.nlink++ }
    src.ctime = from.mtime = from.ctime = t
  }

  async link (_ctx: FuseContext, ino: number, newParent: number, newName: string): Promise<FuseEntry> {
    await this.#settle()
    const n = this.#node(ino)
    if (n.entries != null) throw fsErr('EPERM')
    const dir = this.#dir(newParent)
    if (dir.entries.has(newName)) throw fsErr('EEXIST')
    this.#link(dir, newName, ino)
    n.nlink++
    n.ctime = now()
    return entryOf(n)
  }

  #open (ino: number): number {
    const n = this.#node(ino)
    n.opens++
    const fh = this.#nextFh++
    this.handles.set(fh, ino)
    return fh
  }

  #close (fh: number): void {
    const ino = this.handles.get(fh)
    if (ino === undefined) throw fsErr('EBADF')
    this.handles.delete(fh)
    const n = this.nodes.get(ino)
    if (n != null) { n.opens--; this.#maybeFree(n) }
  }

  async open (_ctx: FuseContext, ino: number): Promise<FuseOpenReply> {
    await this.#settle()
    return { fh: this.#open(ino) }
  }

  async create (ctx: FuseContext, parent: number, name: string, mode: number): Promise<FuseCreateReply> {
    await this.#settle()
    const n = this.#create(ctx, parent, name, S_IFREG | (mode & 0o7777))
    return { ...entryOf(n), fh: this.#open(n.ino) }
  }

  async read (_ctx: FuseContext, ino: number, fh: number, offset: number, size: number): Promise<Uint8Array> {
    await this.#settle()
    if (this.handles.get(fh) !== ino) throw fsErr('EBADF')
    const n = this.#node(ino)
    this.stats.reads++
    this.stats.readMax = Math.max(this.stats.readMax, size)
    if (n.hang) await new Promise<void>(resolve => { this.#hung.push(resolve) })
    return readData(n, offset, size)
  }

  async write (_ctx: FuseContext, ino: number, fh: number, offset: number, data: Uint8Array): Promise<number> {
    if (this.handles.get(fh) !== ino) throw fsErr('EBADF')
    const n = this.#node(ino)
    writeData(n, offset, data) // copied before any await: `data` is only ours until we settle
    const s = this.stats
    s.writes++
    s.writeBytes += data.length
    s.writeMin = Math.min(s.writeMin, data.length)
    s.writeMax = Math.max(s.writeMax, data.length)
    s.lastWriteOffset = offset
    n.mtime = n.ctime = now()
    await this.#settle()
    return data.length
  }

  async flush (): Promise<void> { await this.#settle() }

  async release (_ctx: FuseContext, _ino: number, fh: number): Promise<void> {
    await this.#settle()
    this.#close(fh)
  }

  async fsync (): Promise<void> { await this.#settle() }

  async opendir (_ctx: FuseContext, ino: number): Promise<FuseOpenReply> {
    await this.#settle()
    this.#dir(ino)
    return { fh: this.#open(ino) }
  }

  async readdir (_ctx: FuseContext, ino: number, _fh: number, offset: number, size: number, plus: boolean): Promise<FuseDirent[]> {
    await this.#settle()
    const dir = this.#dir(ino)
    const out: FuseDirent[] = []
    const limit = this.#opts.overfill === true ? size * 2 : size
    let used = 0
    const add = (name: string, n: MemNode, cookie: number): boolean => {
      if (cookie <= offset) return true
      used += direntSize(name, plus)
      if (used > limit) return false
      // the kernel counts no lookup for . and .. (their entry carries attributes only)
      const entry = !plus ? undefined : name === '.' || name === '..' ? { attr: attrOf(n) } : entryOf(n)
      out.push({ name, ino: n.ino, mode: n.mode, nextOffset: cookie, entry })
      return true
    }
    if (!add('.', dir, 1) || !add('..', this.#node(dir.parent), 2)) return out
    for (const [name, e] of dir.entries) {
      if (!add(name, this.#node(e.ino), e.cookie)) break
    }
    this.stats.readdirEntries += out.length
    return out
  }

  async releasedir (_ctx: FuseContext, _ino: number, fh: number): Promise<void> {
    await this.#settle()
    this.#close(fh)
  }

  async fsyncdir (): Promise<void> { await this.#settle() }

  async statfs (): Promise<FuseStatfs> {
    await this.#settle()
    return { bsize: 4096, frsize: 4096, blocks: 1 << 24, bfree: 1 << 23, bavail: 1 << 23, files: 1 << 20, ffree: 1 << 19, favail: 1 << 19, namemax: 255 }
  }

  async setxattr (_ctx: FuseContext, ino: number, name: string, value: Uint8Array, flags: number): Promise<void> {
    await this.#settle()
    const n = this.#node(ino)
    if (flags === 1 && n.xattrs.has(name)) throw fsErr('EEXIST')
    if (flags === 2 && !n.xattrs.has(name)) throw fsErr('ENODATA')
    n.xattrs.set(name, Buffer.from(value))
    n.ctime = now()
  }

  async getxattr (_ctx: FuseContext, ino: number, name: string): Promise<Uint8Array> {
    await this.#settle()
    const v = this.#node(ino).xattrs.get(name)
    if (v == null) throw fsErr('ENODATA')
    return v
  }

  async listxattr (_ctx: FuseContext, ino: number): Promise<string[]> {
    await this.#settle()
    return [...this.#node(ino).xattrs.keys()]
  }

  async removexattr (_ctx: FuseContext, ino: number, name: string): Promise<void> {
    await this.#settle()
    if (!this.#node(ino).xattrs.delete(name)) throw fsErr('ENODATA')
  }

  async access (): Promise<void> { await this.#settle() }

  async fallocate (_ctx: FuseContext, ino: number, _fh: number, mode: number, offset: number, length: number): Promise<void> {
    await this.#settle()
    const n = this.#node(ino)
    if (mode === 1) return // FALLOC_FL_KEEP_SIZE: nothing to reserve in memory
    if (mode !== 0) throw fsErr('EOPNOTSUPP')
    if (offset + length > n.size) truncateData(n, offset + length)
  }
}
