/**
 * A PosixTarget on a local directory (or a mount) through node:fs, with what node:fs lacks done by
 * the usual tools: nanosecond times by `touch -d @s.ns`, xattrs by setfattr/getfattr (package
 * attr), rename flags by a compiled renameat2(2) helper when given one. The reference the differential test compares the VFS against.
 */
import { execFile } from 'node:child_process'
import { constants as C, type BigIntStats } from 'node:fs'
import * as fs from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PosixStat, PosixStatfs, PosixTarget, PosixTargetFeatures } from '../compliance/posix-target.js'

function toStat (s: BigIntStats): PosixStat {
  return {
    ino: Number(s.ino),
    size: Number(s.size),
    nlink: Number(s.nlink),
    mode: Number(s.mode),
    uid: Number(s.uid),
    gid: Number(s.gid),
    atimeNs: s.atimeNs,
    mtimeNs: s.mtimeNs,
    ctimeNs: s.ctimeNs
  }
}

function seconds (ns: bigint): string {
  const neg = ns < 0n
  const abs = neg ? -ns : ns
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`
}

/** errno names for the messages of touch, setfattr and getfattr (strerror text). */
const STRERROR: Array<[RegExp, string]> = [
  [/No such attribute/, 'ENODATA'], [/No data available/, 'ENODATA'], [/Operation not supported/, 'EOPNOTSUPP'],
  [/Numerical result out of range/, 'ERANGE'], [/Argument list too long/, 'E2BIG'], [/Invalid argument/, 'EINVAL'],
  [/Operation not permitted/, 'EPERM'], [/File exists/, 'EEXIST'], [/No such file or directory/, 'ENOENT'],
  [/Permission denied/, 'EACCES'], [/No space left/, 'ENOSPC'], [/Not a directory/, 'ENOTDIR']
]

/** Runs a tool; rejects with a node-like error whose code comes from its stderr. */
async function run (cmd: string, args: string[]): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err == null) { resolve(stdout); return }
      const msg = stderr.toString()
      const code = STRERROR.find(([re]) => re.test(msg))?.[1] ?? 'EIO'
      reject(Object.assign(new Error(`${code}: ${cmd} ${args.join(' ')}: ${msg.trim()}`), { code }))
    })
  })
}

function notSupported (): Promise<never> {
  return Promise.reject(Object.assign(new Error('EOPNOTSUPP: not on this target'), { code: 'EOPNOTSUPP' }))
}

/** Compiles test/helpers/renameat2.c into `dir` with cc; undefined when there is no compiler. */
export async function buildRenameat2 (dir: string): Promise<string | undefined> {
  const src = fileURLToPath(new URL('../../../test/helpers/renameat2.c', import.meta.url))
  const bin = join(dir, 'renameat2')
  return await new Promise(resolve => {
    execFile('cc', ['-O2', '-o', bin, src], { timeout: 60_000 }, (err) => { resolve(err == null ? bin : undefined) })
  })
}

export class FsPosixTarget implements PosixTarget {
  readonly name: string
  readonly features: PosixTargetFeatures
  readonly root: string
  readonly #fds = new Map<number, { handle: fs.FileHandle, pos: number, append: boolean }>()

  readonly #renameat2?: string

  /** `renameat2`: a compiled test/helpers/renameat2.c (see `buildRenameat2`), for rename flags. */
  constructor (root: string, features: Partial<PosixTargetFeatures> = {}, renameat2?: string) {
    this.root = root
    this.name = `node:fs (${root})`
    this.#renameat2 = renameat2
    this.features = { renameFlags: renameat2 != null, xattrs: true, palmXattrs: false, ...features }
  }

  #p (path: string): string { return join(this.root, path) }

  #fd (fd: number): { handle: fs.FileHandle, pos: number, append: boolean } {
    const f = this.#fds.get(fd)
    if (f == null) throw Object.assign(new Error(`EBADF: ${fd}`), { code: 'EBADF' })
    return f
  }

  async mkdir (path: string, mode = 0o777): Promise<void> { await fs.mkdir(this.#p(path), { mode }) }
  async rmdir (path: string): Promise<void> { await fs.rmdir(this.#p(path)) }

  async open (path: string, flags: number, mode = 0o666): Promise<number> {
    const handle = await fs.open(this.#p(path), flags, mode)
    this.#fds.set(handle.fd, { handle, pos: 0, append: (flags & C.O_APPEND) !== 0 })
    return handle.fd
  }

  async read (fd: number, length: number, position?: number): Promise<Uint8Array> {
    const f = this.#fd(fd)
    const at = position ?? f.pos
    const buf = Buffer.alloc(length)
    let got = 0
    while (got < length) {
      const { bytesRead } = await f.handle.read(buf, got, length - got, at + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    if (position === undefined) f.pos = at + got
    return buf.subarray(0, got)
  }

  async write (fd: number, data: Uint8Array, position?: number): Promise<number> {
    const f = this.#fd(fd)
    const at = position ?? f.pos
    const { bytesWritten } = await f.handle.write(data, 0, data.length, at)
    if (f.append) f.pos = Number((await f.handle.stat({ bigint: true })).size)
    else if (position === undefined) f.pos = at + bytesWritten
    return bytesWritten
  }

  async ftruncate (fd: number, size: number): Promise<void> { await this.#fd(fd).handle.truncate(size) }
  async fsync (fd: number): Promise<void> { await this.#fd(fd).handle.sync() }
  async fstat (fd: number): Promise<PosixStat> { return toStat(await this.#fd(fd).handle.stat({ bigint: true })) }

  async close (fd: number): Promise<void> {
    const f = this.#fd(fd)
    this.#fds.delete(fd)
    await f.handle.close()
  }

  async writeFile (path: string, data: Uint8Array): Promise<void> { await fs.writeFile(this.#p(path), data) }
  async readFile (path: string): Promise<Uint8Array> { return await fs.readFile(this.#p(path)) }
  async stat (path: string): Promise<PosixStat> { return toStat(await fs.stat(this.#p(path), { bigint: true })) }
  async lstat (path: string): Promise<PosixStat> { return toStat(await fs.lstat(this.#p(path), { bigint: true })) }
  async readdir (path: string): Promise<string[]> { return await fs.readdir(this.#p(path)) }

  async rename (from: string, to: string, flags = 0): Promise<void> {
    if (flags === 0) { await fs.rename(this.#p(from), this.#p(to)); return }
    if (this.#renameat2 == null) return await notSupported()
    const how = flags === 1 ? 'noreplace' : flags === 2 ? 'exchange' : 'none'
    await new Promise<void>((resolve, reject) => {
      execFile(this.#renameat2 as string, [how, this.#p(from), this.#p(to)], { timeout: 30_000 }, (err, _out, stderr) => {
        if (err == null) { resolve(); return }
        const code = String(stderr).trim()
        reject(Object.assign(new Error(`${code}: renameat2 ${how} ${from} ${to}`), { code }))
      })
    })
  }

  async unlink (path: string): Promise<void> { await fs.unlink(this.#p(path)) }
  async link (existing: string, newPath: string): Promise<void> { await fs.link(this.#p(existing), this.#p(newPath)) }
  async symlink (target: string, path: string): Promise<void> { await fs.symlink(target, this.#p(path)) }
  async readlink (path: string): Promise<string> { return await fs.readlink(this.#p(path)) }
  async chmod (path: string, mode: number): Promise<void> { await fs.chmod(this.#p(path), mode) }
  async chown (path: string, uid: number, gid: number): Promise<void> { await fs.chown(this.#p(path), uid, gid) }

  async utimens (path: string, atimeNs: bigint, mtimeNs: bigint): Promise<void> {
    // node:fs takes times as float seconds and loses nanoseconds: touch keeps them.
    await run('touch', ['-a', '-d', `@${seconds(atimeNs)}`, '--', this.#p(path)])
    await run('touch', ['-m', '-d', `@${seconds(mtimeNs)}`, '--', this.#p(path)])
  }

  async truncate (path: string, size: number): Promise<void> { await fs.truncate(this.#p(path), size) }
  async setxattr (path: string, name: string, value: Uint8Array, flags = 0): Promise<void> {
    // setfattr has no XATTR_CREATE/REPLACE: check first (not atomic, enough for tests).
    if (flags !== 0) {
      const exists = await this.getxattr(path, name).then(() => true, (err) => { if (err.code === 'ENODATA') return false; throw err })
      if (exists && (flags & 1) !== 0) throw Object.assign(new Error(`EEXIST: ${name}`), { code: 'EEXIST' })
      if (!exists && (flags & 2) !== 0) throw Object.assign(new Error(`ENODATA: ${name}`), { code: 'ENODATA' })
    }
    await run('setfattr', ['-n', name, '-v', `0x${Buffer.from(value).toString('hex')}`, '--', this.#p(path)])
  }

  async getxattr (path: string, name: string): Promise<Uint8Array> {
    return await run('getfattr', ['--absolute-names', '--only-values', '-n', name, '--', this.#p(path)])
  }

  async listxattr (path: string): Promise<string[]> {
    const out = await run('getfattr', ['--absolute-names', '-m', '-', '--', this.#p(path)])
    return out.toString().split('\n').filter(l => l !== '' && !l.startsWith('#'))
  }

  async removexattr (path: string, name: string): Promise<void> {
    await run('setfattr', ['-x', name, '--', this.#p(path)])
  }

  async statfs (path: string): Promise<PosixStatfs> {
    const s = await fs.statfs(this.#p(path))
    return { bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree }
  }

  /** Closes descriptors a failed test left open. */
  async closeAll (): Promise<void> {
    for (const fd of [...this.#fds.keys()]) await this.close(fd).catch(() => {})
  }
}
