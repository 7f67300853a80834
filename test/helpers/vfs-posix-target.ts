/**
 * A PosixTarget over a Vfs in-process, doing what the kernel does for a path-based call: resolve
 * the path by lookups from the root (following symlinks, at most 40), call the inode verb, then
 * forget the lookups (as if the dentry cache evicted them at once, which exercises lookup
 * counting). An open descriptor keeps one lookup on its inode until close. Reads and writes are
 * cut into 128 KiB requests, like FUSE's max_read/max_write.
 */
import { constants as C } from 'node:fs'
import { posix } from 'node:path'
import { ROOT_INO, type Attr, type FileType } from '../../src/meta/types.js'
import type { Vfs, VfsContext } from '../../src/vfs/index.js'
import { KeyedMutex } from '../../src/vfs/limiter.js'
import type { PosixStat, PosixStatfs, PosixTarget, PosixTargetFeatures } from '../compliance/posix-target.js'

const REQUEST_BYTES = 128 * 1024
const MAX_SYMLINKS = 40

const TYPE_BITS: Record<FileType, number> = {
  file: 0o100000, dir: 0o040000, symlink: 0o120000, fifo: 0o010000, socket: 0o140000, char: 0o020000, block: 0o060000
}

/** An error that looks like node:fs's (code = errno name). */
function errnoError (code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code })
}

export function toPosixStat (a: Attr): PosixStat {
  return {
    ino: a.ino,
    size: a.size,
    nlink: a.nlink,
    mode: TYPE_BITS[a.type] | a.mode,
    uid: a.uid,
    gid: a.gid,
    atimeNs: a.atimeNs,
    mtimeNs: a.mtimeNs,
    ctimeNs: a.ctimeNs
  }
}

interface Fd { ino: number, fh: number, flags: number, pos: number }

export interface VfsPosixTargetInit {
  ctx?: Partial<VfsContext>
  /** Called by `close()` of the target (teardown), e.g. to stop the VFS and its components. */
  onClose?: () => Promise<void>
}

export class VfsPosixTarget implements PosixTarget {
  readonly name = 'vfs (in-process)'
  readonly features: PosixTargetFeatures = { renameFlags: true, xattrs: true, palmXattrs: true }
  readonly vfs: Vfs
  readonly ctx: VfsContext
  readonly #fds = new Map<number, Fd>()
  /** The kernel holds a directory's lock across lookup + create (O_CREAT): so do we. */
  readonly #dirLocks = new KeyedMutex<number>()
  #nextFd = 3

  constructor (vfs: Vfs, init: VfsPosixTargetInit = {}) {
    this.vfs = vfs
    this.ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022, ...init.ctx }
  }

  /** Open descriptors (a test can check that none leak). */
  get openFds (): number { return this.#fds.size }

  /** Runs `fn` with the lookups it takes released afterwards (the kernel's dentry cache letting go). */
  async #held<T> (fn: (held: number[]) => Promise<T>): Promise<T> {
    const held: number[] = []
    try {
      return await fn(held)
    } finally {
      for (const ino of held) await this.vfs.forget(ino, 1)
    }
  }

  /** Looks `name` up in `dir`, recording the lookup in `held`. */
  async #lookup (dir: number, name: string, held: number[]): Promise<Attr> {
    const attr = await this.vfs.lookup(this.ctx, dir, name)
    held.push(attr.ino)
    return attr
  }

  /** Resolves all of `path` to an inode's attr. */
  async #resolve (path: string, follow: boolean, held: number[], depth = 0): Promise<Attr> {
    const { dir, name } = await this.#parent(path, held, depth)
    if (name === '') return await this.vfs.getattr(this.ctx, dir, undefined)
    const attr = await this.#lookup(dir, name, held)
    if (attr.type === 'symlink' && follow) return await this.#follow(dir, attr, held, depth)
    return attr
  }

  async #follow (dir: number, link: Attr, held: number[], depth: number): Promise<Attr> {
    if (depth >= MAX_SYMLINKS) throw errnoError('ELOOP', 'too many levels of symbolic links')
    const target = await this.vfs.readlink(this.ctx, link.ino)
    const base = target.startsWith('/') ? ROOT_INO : dir
    return await this.#resolveFrom(base, target, true, held, depth + 1)
  }

  async #resolveFrom (start: number, path: string, follow: boolean, held: number[], depth: number): Promise<Attr> {
    const parts = path.split('/').filter(p => p !== '' && p !== '.')
    let cur = await this.vfs.getattr(this.ctx, start, undefined)
    for (let i = 0; i < parts.length; i++) {
      if (cur.type !== 'dir') throw errnoError('ENOTDIR', `${path}: not a directory`)
      const next = await this.#lookup(cur.ino, parts[i], held)
      const last = i === parts.length - 1
      cur = next.type === 'symlink' && (!last || follow) ? await this.#follow(cur.ino, next, held, depth) : next
    }
    return cur
  }

  /** The directory inode holding the last component of `path`, and that component ('' for the root). */
  async #parent (path: string, held: number[], depth = 0): Promise<{ dir: number, name: string }> {
    const parts = path.split('/').filter(p => p !== '')
    const name = parts.pop() ?? ''
    const dir = await this.#resolveFrom(ROOT_INO, parts.join('/'), true, held, depth)
    if (dir.type !== 'dir') throw errnoError('ENOTDIR', `${path}: a parent is not a directory`)
    return { dir: dir.ino, name }
  }

  #fd (fd: number): Fd {
    const f = this.#fds.get(fd)
    if (f == null) throw errnoError('EBADF', `descriptor ${fd} is not open`)
    return f
  }

  async mkdir (path: string, mode = 0o777): Promise<void> {
    await this.#held(async (held) => {
      const { dir, name } = await this.#parent(path, held)
      const attr = await this.vfs.mkdir(this.ctx, dir, name, mode)
      held.push(attr.ino)
    })
  }

  async rmdir (path: string): Promise<void> {
    await this.#held(async (held) => {
      const { dir, name } = await this.#parent(path, held)
      await this.vfs.rmdir(this.ctx, dir, name)
    })
  }

  async open (path: string, flags: number, mode = 0o666, depth = 0): Promise<number> {
    const viaLink = await this.#held(async (held) => {
      const { dir, name } = await this.#parent(path, held)
      let attr: Attr | undefined
      let created: { ino: number, fh: number } | undefined
      await this.#dirLocks.with(dir, async () => {
        try {
          attr = await this.#lookup(dir, name, held)
        } catch (err) {
          if ((err as { code?: string }).code !== 'ENOENT' || (flags & C.O_CREAT) === 0) throw err
          const r = await this.vfs.create(this.ctx, dir, name, mode, flags)
          created = { ino: r.attr.ino, fh: r.fh }
        }
      })
      let ino: number
      let fh: number
      if (created != null) {
        ino = created.ino
        fh = created.fh
      } else if (attr == null) {
        throw errnoError('ENOENT', path)
      } else {
        if ((flags & C.O_CREAT) !== 0 && (flags & C.O_EXCL) !== 0) throw errnoError('EEXIST', `${path} exists`)
        if (attr.type === 'symlink') {
          if ((flags & C.O_NOFOLLOW) !== 0) throw errnoError('ELOOP', `${path} is a symlink`)
          if (depth >= MAX_SYMLINKS) throw errnoError('ELOOP', 'too many levels of symbolic links')
          // Open the link's target by path: O_CREAT creates it there when it is missing.
          const target = await this.vfs.readlink(this.ctx, attr.ino)
          return posix.resolve(posix.dirname(posix.resolve('/', path)), target)
        }
        ino = attr.ino
        this.vfs.rememberLookup(ino)
        try {
          fh = (await this.vfs.open(this.ctx, ino, flags)).fh
        } catch (err) {
          await this.vfs.forget(ino, 1)
          throw err
        }
      }
      const fd = this.#nextFd++
      this.#fds.set(fd, { ino, fh, flags, pos: 0 })
      return fd
    })
    return typeof viaLink === 'string' ? await this.open(viaLink, flags, mode, depth + 1) : viaLink
  }

  async read (fd: number, length: number, position?: number): Promise<Uint8Array> {
    const f = this.#fd(fd)
    const at = position ?? f.pos
    const parts: Uint8Array[] = []
    let got = 0
    while (got < length) {
      const want = Math.min(REQUEST_BYTES, length - got)
      const chunk = await this.vfs.read(this.ctx, f.ino, f.fh, at + got, want)
      parts.push(chunk)
      got += chunk.length
      if (chunk.length < want) break
    }
    if (position === undefined) f.pos = at + got
    return Buffer.concat(parts)
  }

  async write (fd: number, data: Uint8Array, position?: number): Promise<number> {
    const f = this.#fd(fd)
    const at = position ?? f.pos
    let done = 0
    while (done < data.length) {
      const chunk = data.subarray(done, Math.min(data.length, done + REQUEST_BYTES))
      // The binding reuses its buffer: hand the VFS a copy and scribble on it afterwards.
      const buf = Buffer.from(chunk)
      done += await this.vfs.write(this.ctx, f.ino, f.fh, at + done, buf, f.flags)
      buf.fill(0xee)
    }
    if ((f.flags & C.O_APPEND) !== 0) f.pos = (await this.vfs.getattr(this.ctx, f.ino, f.fh)).size
    else if (position === undefined) f.pos = at + done
    return done
  }

  async ftruncate (fd: number, size: number): Promise<void> {
    const f = this.#fd(fd)
    await this.vfs.setattr(this.ctx, f.ino, { size }, f.fh)
  }

  async fsync (fd: number): Promise<void> {
    const f = this.#fd(fd)
    await this.vfs.fsync(this.ctx, f.ino, f.fh, false)
  }

  async fstat (fd: number): Promise<PosixStat> {
    const f = this.#fd(fd)
    return toPosixStat(await this.vfs.getattr(this.ctx, f.ino, f.fh))
  }

  async close (fd: number): Promise<void> {
    const f = this.#fd(fd)
    this.#fds.delete(fd)
    try {
      await this.vfs.flush(this.ctx, f.ino, f.fh, 0n)
    } finally {
      try {
        await this.vfs.release(this.ctx, f.ino, f.fh, f.flags)
      } finally {
        await this.vfs.forget(f.ino, 1)
      }
    }
  }

  async writeFile (path: string, data: Uint8Array): Promise<void> {
    const fd = await this.open(path, C.O_WRONLY | C.O_CREAT | C.O_TRUNC, 0o666)
    try {
      await this.write(fd, data, 0)
    } finally {
      await this.close(fd)
    }
  }

  async readFile (path: string): Promise<Uint8Array> {
    const fd = await this.open(path, C.O_RDONLY)
    try {
      const parts: Uint8Array[] = []
      for (;;) {
        const chunk = await this.read(fd, 4 * REQUEST_BYTES)
        if (chunk.length === 0) break
        parts.push(chunk)
      }
      return Buffer.concat(parts)
    } finally {
      await this.close(fd)
    }
  }

  async stat (path: string): Promise<PosixStat> {
    return toPosixStat(await this.#held(async (held) => await this.#resolve(path, true, held)))
  }

  async lstat (path: string): Promise<PosixStat> {
    return toPosixStat(await this.#held(async (held) => await this.#resolve(path, false, held)))
  }

  async readdir (path: string): Promise<string[]> {
    return await this.#held(async (held) => {
      const dir = await this.#resolve(path, true, held)
      if (dir.type !== 'dir') throw errnoError('ENOTDIR', `${path} is not a directory`)
      const { fh } = await this.vfs.opendir(this.ctx, dir.ino, C.O_RDONLY)
      const names: string[] = []
      try {
        let offset = 0
        for (;;) {
          const batch = await this.vfs.readdir(this.ctx, dir.ino, fh, offset, 50, true)
          if (batch.length === 0) break
          for (const e of batch) {
            if (e.countsLookup === true) { this.vfs.rememberLookup(e.ino); held.push(e.ino) }
            if (e.name !== '.' && e.name !== '..') names.push(e.name)
            offset = e.nextOffset
          }
        }
      } finally {
        await this.vfs.releasedir(this.ctx, dir.ino, fh)
      }
      return names
    })
  }

  async rename (from: string, to: string, flags = 0): Promise<void> {
    await this.#held(async (held) => {
      const a = await this.#parent(from, held)
      const b = await this.#parent(to, held)
      await this.vfs.rename(this.ctx, a.dir, a.name, b.dir, b.name, flags)
    })
  }

  async unlink (path: string): Promise<void> {
    await this.#held(async (held) => {
      const { dir, name } = await this.#parent(path, held)
      await this.vfs.unlink(this.ctx, dir, name)
    })
  }

  async link (existing: string, newPath: string): Promise<void> {
    await this.#held(async (held) => {
      const src = await this.#resolve(existing, false, held)
      const { dir, name } = await this.#parent(newPath, held)
      const attr = await this.vfs.link(this.ctx, src.ino, dir, name)
      held.push(attr.ino)
    })
  }

  async symlink (target: string, path: string): Promise<void> {
    await this.#held(async (held) => {
      const { dir, name } = await this.#parent(path, held)
      const attr = await this.vfs.symlink(this.ctx, target, dir, name)
      held.push(attr.ino)
    })
  }

  async readlink (path: string): Promise<string> {
    return await this.#held(async (held) => await this.vfs.readlink(this.ctx, (await this.#resolve(path, false, held)).ino))
  }

  async #setattr (path: string, set: Parameters<Vfs['setattr']>[2]): Promise<void> {
    await this.#held(async (held) => { await this.vfs.setattr(this.ctx, (await this.#resolve(path, true, held)).ino, set, undefined) })
  }

  async chmod (path: string, mode: number): Promise<void> { await this.#setattr(path, { mode }) }
  async chown (path: string, uid: number, gid: number): Promise<void> { await this.#setattr(path, { uid, gid }) }
  async utimens (path: string, atimeNs: bigint, mtimeNs: bigint): Promise<void> { await this.#setattr(path, { atime: atimeNs, mtime: mtimeNs }) }
  async truncate (path: string, size: number): Promise<void> { await this.#setattr(path, { size }) }

  async setxattr (path: string, name: string, value: Uint8Array, flags = 0): Promise<void> {
    await this.#held(async (held) => { await this.vfs.setxattr(this.ctx, (await this.#resolve(path, true, held)).ino, name, value, flags) })
  }

  async getxattr (path: string, name: string): Promise<Uint8Array> {
    return await this.#held(async (held) => await this.vfs.getxattr(this.ctx, (await this.#resolve(path, true, held)).ino, name))
  }

  async listxattr (path: string): Promise<string[]> {
    return await this.#held(async (held) => await this.vfs.listxattr(this.ctx, (await this.#resolve(path, true, held)).ino))
  }

  async removexattr (path: string, name: string): Promise<void> {
    await this.#held(async (held) => { await this.vfs.removexattr(this.ctx, (await this.#resolve(path, true, held)).ino, name) })
  }

  async statfs (path: string): Promise<PosixStatfs> {
    const s = await this.#held(async (held) => await this.vfs.statfs(this.ctx, (await this.#resolve(path, true, held)).ino))
    return { bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree }
  }
}
