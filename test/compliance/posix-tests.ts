/**
 * The POSIX suite (rclone vfstest style): the same tests run against the VFS in-process and
 * against a real mount. Tests speak only of what a program sees: bytes, stat fields and errno
 * `code`s, never VFS internals. Each test works in its own directory of one shared target;
 * tests that need a special file system (a tiny store) set up their own.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import {
  RENAME_EXCHANGE, RENAME_NOREPLACE, XATTR_CREATE, XATTR_REPLACE,
  type PosixSuiteOptions, type PosixTarget
} from './posix-target.js'

export * from './posix-target.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const S_IFMT = 0o170000
const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const RW_CREATE = C.O_RDWR | C.O_CREAT

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Asserts that `p` rejects with one of `codes`. */
export async function rejectsWith (p: Promise<unknown>, codes: string | string[]): Promise<void> {
  const want = Array.isArray(codes) ? codes : [codes]
  await assert.rejects(p, (err: unknown) => {
    const code = (err as { code?: unknown }).code
    assert.ok(want.includes(String(code)), `expected ${want.join('|')}, got ${String(code)}: ${(err as Error).message}`)
    return true
  })
}

/** Writes `data` through one descriptor in `chunk`-byte writes. */
async function writeAll (t: PosixTarget, fd: number, data: Uint8Array, at = 0, chunk = 128 * 1024): Promise<void> {
  for (let o = 0; o < data.length; o += chunk) {
    const n = await t.write(fd, data.subarray(o, Math.min(data.length, o + chunk)), at + o)
    assert.equal(n, Math.min(chunk, data.length - o))
  }
}

export function posixTests (options: PosixSuiteOptions): void {
  describe('POSIX semantics', () => {
    let t: PosixTarget
    let n = 0
    /** A fresh directory for one test. */
    const dir = async (): Promise<string> => { const d = `/t${++n}`; await t.mkdir(d); return d }

    before(async () => {
      const target = await options.setup({})
      assert.ok(target != null, 'setup({}) must give a target')
      t = target
    })
    after(async () => { if (t != null) await options.teardown(t) })

    it('creates, lists and removes directories with the right errors', async () => {
      const d = await dir()
      await t.mkdir(`${d}/a`, 0o755)
      const st = await t.stat(`${d}/a`)
      assert.equal(st.mode & S_IFMT, S_IFDIR)
      assert.equal(st.mode & 0o777, 0o755)
      await rejectsWith(t.mkdir(`${d}/a`), 'EEXIST')
      await t.writeFile(`${d}/a/f`, text('x'))
      assert.deepEqual((await t.readdir(`${d}/a`)).sort(), ['f'])
      await rejectsWith(t.rmdir(`${d}/a`), 'ENOTEMPTY')
      await rejectsWith(t.rmdir(`${d}/a/f`), 'ENOTDIR')
      await rejectsWith(t.unlink(`${d}/a`), ['EISDIR', 'EPERM'])
      await rejectsWith(t.stat(`${d}/a/f/x`), 'ENOTDIR')
      await rejectsWith(t.stat(`${d}/nope`), 'ENOENT')
      await rejectsWith(t.mkdir(`${d}/nope/x`), 'ENOENT')
      await t.unlink(`${d}/a/f`)
      await t.rmdir(`${d}/a`)
      assert.deepEqual(await t.readdir(d), [])
    })

    it('round-trips files of many sizes, across stripe boundaries', async () => {
      const d = await dir()
      for (const size of [0, 1, 4095, 4096, 65537, 5 * MiB + 3]) {
        const data = randomBytes(size)
        await t.writeFile(`${d}/f${size}`, data)
        const st = await t.stat(`${d}/f${size}`)
        assert.equal(st.size, size)
        assert.equal(st.mode & S_IFMT, S_IFREG)
        assert.equal(sha(await t.readFile(`${d}/f${size}`)), sha(data), `size ${size}`)
      }
    })

    it('lists a large directory completely, once each', async () => {
      const d = await dir()
      const names = Array.from({ length: 300 }, (_, i) => `entry-${i}`)
      for (const name of names) await t.writeFile(`${d}/${name}`, text(name))
      const listed = await t.readdir(d)
      assert.equal(listed.length, names.length)
      assert.deepEqual([...listed].sort(), [...names].sort())
    })

    it('honours O_EXCL, O_TRUNC and O_APPEND', async () => {
      const d = await dir()
      await t.writeFile(`${d}/f`, text('hello world'))
      await rejectsWith(t.open(`${d}/f`, RW_CREATE | C.O_EXCL, 0o644), 'EEXIST')
      const fd = await t.open(`${d}/g`, RW_CREATE | C.O_EXCL, 0o644)
      await t.close(fd)
      const tr = await t.open(`${d}/f`, C.O_WRONLY | C.O_TRUNC)
      assert.equal((await t.fstat(tr)).size, 0)
      await t.write(tr, text('abc'))
      await t.close(tr)
      assert.equal(str(await t.readFile(`${d}/f`)), 'abc')
      const a1 = await t.open(`${d}/f`, C.O_WRONLY | C.O_APPEND)
      const a2 = await t.open(`${d}/f`, C.O_WRONLY | C.O_APPEND)
      await t.write(a1, text('1'))
      await t.write(a2, text('22'))
      await t.write(a1, text('333'), 0)
      await t.close(a1)
      await t.close(a2)
      assert.equal(str(await t.readFile(`${d}/f`)), 'abc122333')
    })

    it('shares writes between two descriptors and two hard links at once', async () => {
      const d = await dir()
      await t.writeFile(`${d}/f`, new Uint8Array(0))
      await t.link(`${d}/f`, `${d}/g`)
      const w = await t.open(`${d}/f`, C.O_RDWR)
      const r = await t.open(`${d}/f`, C.O_RDONLY)
      const viaLink = await t.open(`${d}/g`, C.O_RDWR)
      await t.write(w, text('first'), 0)
      assert.equal(str(await t.read(r, 100, 0)), 'first')
      assert.equal(str(await t.read(viaLink, 100, 0)), 'first')
      await t.write(viaLink, text('FI'), 0)
      assert.equal(str(await t.read(w, 100, 0)), 'FIrst')
      assert.equal((await t.fstat(r)).size, 5)
      assert.equal((await t.stat(`${d}/g`)).size, 5)
      for (const fd of [w, r, viaLink]) await t.close(fd)
      assert.equal(str(await t.readFile(`${d}/g`)), 'FIrst')
    })

    it('keeps hard links and st_nlink right', async () => {
      const d = await dir()
      await t.writeFile(`${d}/a`, text('data'))
      await t.link(`${d}/a`, `${d}/b`)
      await t.mkdir(`${d}/sub`)
      await t.link(`${d}/a`, `${d}/sub/c`)
      const [a, b, c] = await Promise.all([t.stat(`${d}/a`), t.stat(`${d}/b`), t.stat(`${d}/sub/c`)])
      assert.equal(a.ino, b.ino)
      assert.equal(a.ino, c.ino)
      assert.equal(a.nlink, 3)
      await rejectsWith(t.link(`${d}/a`, `${d}/b`), 'EEXIST')
      await rejectsWith(t.link(`${d}/sub`, `${d}/sub2`), 'EPERM')
      await rejectsWith(t.link(`${d}/missing`, `${d}/x`), 'ENOENT')
      await t.unlink(`${d}/a`)
      assert.equal((await t.stat(`${d}/b`)).nlink, 2)
      assert.equal(str(await t.readFile(`${d}/sub/c`)), 'data')
      await t.unlink(`${d}/b`)
      assert.equal((await t.stat(`${d}/sub/c`)).nlink, 1)
    })

    it('keeps an unlinked file readable and writable until it is closed', async () => {
      const d = await dir()
      const data = randomBytes(5 * MiB)
      await t.writeFile(`${d}/f`, data)
      const fd = await t.open(`${d}/f`, C.O_RDWR)
      await t.unlink(`${d}/f`)
      await rejectsWith(t.stat(`${d}/f`), 'ENOENT')
      assert.equal((await t.fstat(fd)).nlink, 0)
      assert.equal(sha(await t.read(fd, data.length, 0)), sha(data))
      await t.write(fd, text('still here'), 10)
      assert.equal(str(await t.read(fd, 10, 10)), 'still here')
      await t.close(fd)
      assert.deepEqual(await t.readdir(d), [])
    })

    it('renames atomically with the POSIX rules', async () => {
      const d = await dir()
      await t.writeFile(`${d}/a`, text('A'))
      await t.writeFile(`${d}/b`, text('B'))
      await t.mkdir(`${d}/d1`)
      await t.mkdir(`${d}/d2`)
      await t.mkdir(`${d}/full`)
      await t.writeFile(`${d}/full/x`, text('x'))
      await t.rename(`${d}/a`, `${d}/b`)
      assert.equal(str(await t.readFile(`${d}/b`)), 'A')
      await rejectsWith(t.stat(`${d}/a`), 'ENOENT')
      await t.rename(`${d}/b`, `${d}/d1/moved`)
      assert.equal(str(await t.readFile(`${d}/d1/moved`)), 'A')
      await t.rename(`${d}/d1`, `${d}/d2`)
      assert.deepEqual(await t.readdir(`${d}/d2`), ['moved'])
      await rejectsWith(t.rename(`${d}/d2`, `${d}/full`), ['ENOTEMPTY', 'EEXIST'])
      await t.writeFile(`${d}/file`, text('f'))
      await rejectsWith(t.rename(`${d}/file`, `${d}/d2`), 'EISDIR')
      await rejectsWith(t.rename(`${d}/d2`, `${d}/file`), 'ENOTDIR')
      await t.mkdir(`${d}/d2/inner`)
      await rejectsWith(t.rename(`${d}/d2`, `${d}/d2/inner/deeper`), 'EINVAL')
      await rejectsWith(t.rename(`${d}/missing`, `${d}/x`), 'ENOENT')
      await t.link(`${d}/file`, `${d}/file2`)
      await t.rename(`${d}/file`, `${d}/file2`)
      assert.equal((await t.stat(`${d}/file2`)).nlink, 2)
      await t.stat(`${d}/file`)
      await t.rename(`${d}/d2`, `${d}/full/x2`)
      assert.deepEqual((await t.readdir(`${d}/full/x2`)).sort(), ['inner', 'moved'])
    })

    it('renames an open file and keeps its descriptor working', async () => {
      const d = await dir()
      const fd = await t.open(`${d}/f`, RW_CREATE, 0o644)
      await t.write(fd, text('before '), 0)
      await t.mkdir(`${d}/sub`)
      await t.rename(`${d}/f`, `${d}/sub/g`)
      await t.write(fd, text('after'), 7)
      await t.close(fd)
      assert.equal(str(await t.readFile(`${d}/sub/g`)), 'before after')
    })

    it('supports RENAME_NOREPLACE and RENAME_EXCHANGE', async (tc) => {
      if (!t.features.renameFlags) { tc.skip('target has no renameat2 flags'); return }
      const d = await dir()
      await t.writeFile(`${d}/a`, text('A'))
      await t.writeFile(`${d}/b`, text('B'))
      await rejectsWith(t.rename(`${d}/a`, `${d}/b`, RENAME_NOREPLACE), 'EEXIST')
      await t.rename(`${d}/a`, `${d}/c`, RENAME_NOREPLACE)
      await t.mkdir(`${d}/dir`)
      await t.rename(`${d}/c`, `${d}/dir`, RENAME_EXCHANGE)
      assert.equal((await t.stat(`${d}/c`)).mode & S_IFMT, S_IFDIR)
      assert.equal(str(await t.readFile(`${d}/dir`)), 'A')
      await rejectsWith(t.rename(`${d}/b`, `${d}/none`, RENAME_EXCHANGE), 'ENOENT')
    })

    it('creates and reads symlinks', async () => {
      const d = await dir()
      await t.writeFile(`${d}/target`, text('T'))
      await t.symlink('target', `${d}/ln`)
      await t.symlink('nowhere', `${d}/dangling`)
      assert.equal(await t.readlink(`${d}/ln`), 'target')
      assert.equal((await t.lstat(`${d}/ln`)).mode & S_IFMT, S_IFLNK)
      assert.equal((await t.stat(`${d}/ln`)).mode & S_IFMT, S_IFREG)
      assert.equal(str(await t.readFile(`${d}/ln`)), 'T')
      await rejectsWith(t.stat(`${d}/dangling`), 'ENOENT')
      await rejectsWith(t.readlink(`${d}/target`), 'EINVAL')
      await rejectsWith(t.symlink('x', `${d}/ln`), 'EEXIST')
      await t.unlink(`${d}/ln`)
      assert.equal(str(await t.readFile(`${d}/target`)), 'T')
    })

    it('changes mode, owner and nanosecond times', async () => {
      const d = await dir()
      await t.writeFile(`${d}/f`, text('x'))
      await t.chmod(`${d}/f`, 0o640)
      assert.equal((await t.stat(`${d}/f`)).mode & 0o7777, 0o640)
      await t.chmod(`${d}/f`, 0o4755)
      assert.equal((await t.stat(`${d}/f`)).mode & 0o7777, 0o4755)
      await t.chown(`${d}/f`, 1234, 5678)
      const owned = await t.stat(`${d}/f`)
      assert.equal(owned.uid, 1234)
      assert.equal(owned.gid, 5678)
      const atime = 1_600_000_000_123_456_789n
      const mtime = 1_500_000_000_987_654_321n
      const ctimeBefore = (await t.stat(`${d}/f`)).ctimeNs
      await t.utimens(`${d}/f`, atime, mtime)
      const st = await t.stat(`${d}/f`)
      assert.equal(st.atimeNs, atime)
      assert.equal(st.mtimeNs, mtime)
      assert.ok(st.ctimeNs >= ctimeBefore)
    })

    it('updates mtime on write and keeps it after close', async () => {
      const d = await dir()
      await t.writeFile(`${d}/f`, text('x'))
      await t.utimens(`${d}/f`, 1_000_000_000n, 1_000_000_000n)
      const fd = await t.open(`${d}/f`, C.O_WRONLY)
      await t.write(fd, text('y'), 1)
      const during = await t.fstat(fd)
      await t.close(fd)
      const st = await t.stat(`${d}/f`)
      assert.ok(during.mtimeNs > 1_000_000_000n)
      assert.ok(st.mtimeNs > 1_000_000_000n)
      assert.equal(st.size, 2)
    })

    it('truncates and extends with zeros, by path and by descriptor', async () => {
      const d = await dir()
      const data = randomBytes(9 * MiB + 100)
      await t.writeFile(`${d}/f`, data)
      await t.truncate(`${d}/f`, 4 * MiB + 7)
      assert.equal((await t.stat(`${d}/f`)).size, 4 * MiB + 7)
      await t.truncate(`${d}/f`, 10 * MiB)
      const back = await t.readFile(`${d}/f`)
      assert.equal(back.length, 10 * MiB)
      assert.equal(sha(back.subarray(0, 4 * MiB + 7)), sha(data.subarray(0, 4 * MiB + 7)))
      assert.ok(back.subarray(4 * MiB + 7).every(b => b === 0), 'extension reads as zeros')
      const fd = await t.open(`${d}/f`, C.O_RDWR)
      await t.write(fd, text('dirty'), 3 * MiB)
      await t.ftruncate(fd, 3 * MiB + 2)
      assert.equal((await t.fstat(fd)).size, 3 * MiB + 2)
      await t.ftruncate(fd, 3 * MiB + 10)
      assert.deepEqual([...await t.read(fd, 10, 3 * MiB)], [...text('di'), 0, 0, 0, 0, 0, 0, 0, 0])
      await t.close(fd)
      await t.truncate(`${d}/f`, 0)
      assert.equal((await t.readFile(`${d}/f`)).length, 0)
      await rejectsWith(t.truncate(d, 0), 'EISDIR')
    })

    it('reads holes as zeros and short past the end', async () => {
      const d = await dir()
      const fd = await t.open(`${d}/sparse`, RW_CREATE, 0o644)
      await t.write(fd, text('end'), 10 * MiB)
      await t.write(fd, text('start'), 0)
      assert.equal((await t.fstat(fd)).size, 10 * MiB + 3)
      const mid = await t.read(fd, 8192, 5 * MiB)
      assert.equal(mid.length, 8192)
      assert.ok(mid.every(b => b === 0))
      assert.equal(str(await t.read(fd, 100, 10 * MiB)), 'end')
      assert.equal((await t.read(fd, 100, 20 * MiB)).length, 0)
      await t.close(fd)
      const all = await t.readFile(`${d}/sparse`)
      assert.equal(str(all.subarray(0, 5)), 'start')
      assert.ok(all.subarray(5, 10 * MiB).every(b => b === 0))
    })

    it('holds a 64 GiB sparse file', async () => {
      const d = await dir()
      const size = 64 * GiB
      const fd = await t.open(`${d}/big`, RW_CREATE, 0o644)
      await t.ftruncate(fd, size)
      const tail = randomBytes(4096)
      const mid = randomBytes(4096)
      await t.write(fd, tail, size - 4096)
      await t.write(fd, mid, 32 * GiB + 1234)
      await t.fsync(fd)
      await t.close(fd)
      assert.equal((await t.stat(`${d}/big`)).size, size)
      const r = await t.open(`${d}/big`, C.O_RDONLY)
      assert.equal(sha(await t.read(r, 4096, size - 4096)), sha(tail))
      assert.equal(sha(await t.read(r, 4096, 32 * GiB + 1234)), sha(mid))
      assert.ok((await t.read(r, 65536, 48 * GiB)).every(b => b === 0))
      assert.equal((await t.read(r, 10, size)).length, 0)
      await t.close(r)
      await t.unlink(`${d}/big`)
    })

    it('applies random writes exactly', async () => {
      const d = await dir()
      const size = 12 * MiB
      const model = new Uint8Array(size)
      const fd = await t.open(`${d}/f`, RW_CREATE, 0o644)
      let end = 0
      for (let i = 0; i < 150; i++) {
        const len = 1 + Math.floor(Math.random() * (i % 10 === 0 ? 2 * MiB : 20000))
        const at = Math.floor(Math.random() * (size - len))
        const chunk = randomBytes(len)
        model.set(chunk, at)
        end = Math.max(end, at + len)
        await writeAll(t, fd, chunk, at)
        if (i % 50 === 49) {
          await t.close(await t.open(`${d}/f`, C.O_RDONLY))
          assert.equal(sha(await t.read(fd, end, 0)), sha(model.subarray(0, end)), `after ${i + 1} writes`)
        }
      }
      await t.close(fd)
      assert.equal(sha(await t.readFile(`${d}/f`)), sha(model.subarray(0, end)))
    })

    it('refuses names over 255 bytes with ENAMETOOLONG', async () => {
      const d = await dir()
      const ok = 'a'.repeat(255)
      const long = 'a'.repeat(256)
      const wide = 'é'.repeat(128)
      await t.writeFile(`${d}/${ok}`, text('ok'))
      assert.equal(str(await t.readFile(`${d}/${ok}`)), 'ok')
      await rejectsWith(t.writeFile(`${d}/${long}`, text('no')), 'ENAMETOOLONG')
      await rejectsWith(t.mkdir(`${d}/${wide}`), 'ENAMETOOLONG')
      await rejectsWith(t.rename(`${d}/${ok}`, `${d}/${long}`), 'ENAMETOOLONG')
      await rejectsWith(t.stat(`${d}/${long}`), 'ENAMETOOLONG')
      await rejectsWith(t.symlink('x', `${d}/${long}`), 'ENAMETOOLONG')
    })

    it('stores, lists and removes user extended attributes', async (tc) => {
      if (!t.features.xattrs) { tc.skip('target has no user xattrs'); return }
      const d = await dir()
      await t.writeFile(`${d}/f`, text('x'))
      const value = randomBytes(3000)
      await t.setxattr(`${d}/f`, 'user.test', value)
      assert.equal(sha(await t.getxattr(`${d}/f`, 'user.test')), sha(value))
      assert.ok((await t.listxattr(`${d}/f`)).includes('user.test'))
      await rejectsWith(t.setxattr(`${d}/f`, 'user.test', text('again'), XATTR_CREATE), 'EEXIST')
      await rejectsWith(t.setxattr(`${d}/f`, 'user.none', text('v'), XATTR_REPLACE), 'ENODATA')
      await t.setxattr(`${d}/f`, 'user.test', text('replaced'), XATTR_REPLACE)
      assert.equal(str(await t.getxattr(`${d}/f`, 'user.test')), 'replaced')
      await t.setxattr(d, 'user.ondir', text('d'))
      assert.equal(str(await t.getxattr(d, 'user.ondir')), 'd')
      await t.removexattr(`${d}/f`, 'user.test')
      await rejectsWith(t.getxattr(`${d}/f`, 'user.test'), 'ENODATA')
      await rejectsWith(t.removexattr(`${d}/f`, 'user.test'), 'ENODATA')
      assert.ok(!(await t.listxattr(`${d}/f`)).includes('user.test'))
    })

    it('inherits user.palm.policy from the nearest directory and validates it', async (tc) => {
      if (!t.features.palmXattrs) { tc.skip('target is not PALM'); return }
      const d = await dir()
      await t.mkdir(`${d}/a`)
      await t.mkdir(`${d}/a/b`)
      await t.mkdir(`${d}/a/b/c`)
      await t.setxattr(`${d}/a`, 'user.palm.policy', text('2-of-3'))
      await t.setxattr(`${d}/a/b`, 'user.palm.policy', text('1-of-2'))
      await t.writeFile(`${d}/a/f`, randomBytes(10000))
      await t.writeFile(`${d}/a/b/c/g`, randomBytes(10000))
      assert.equal(str(await t.getxattr(`${d}/a/f`, 'user.palm.policy')), '2-of-3')
      assert.equal(str(await t.getxattr(`${d}/a/b/c/g`, 'user.palm.policy')), '1-of-2')
      assert.ok((await t.listxattr(`${d}/a`)).includes('user.palm.policy'))
      for (const bad of ['3-of-2', 'banana', '0-of-1', '2-of-300']) {
        await rejectsWith(t.setxattr(`${d}/a`, 'user.palm.policy', text(bad)), 'EINVAL')
      }
      const health = str(await t.getxattr(`${d}/a/f`, 'user.palm.health'))
      const m = /^(\d+)\/(\d+)\/(\d+), devices /.exec(health)
      assert.ok(m != null, `health "${health}"`)
      assert.equal(Number(m[2]), 2)
      assert.equal(Number(m[3]), 3)
      assert.ok(Number(m[1]) >= Number(m[2]))
      const names = await t.listxattr(`${d}/a/f`)
      assert.ok(names.includes('user.palm.policy') && names.includes('user.palm.health'))
      await rejectsWith(t.setxattr(`${d}/a/f`, 'user.palm.health', text('9/9/9')), 'EPERM')
      assert.equal(sha(await t.readFile(`${d}/a/f`)).length, 64)
    })

    it('reports the file system size with statfs', async () => {
      const s = await t.statfs('/')
      assert.ok(s.bsize > 0)
      assert.ok(s.blocks > 0)
      assert.ok(s.bavail <= s.blocks && s.bfree <= s.blocks)
      assert.ok(s.ffree > 0)
    })

    it('survives concurrent writers on many files and on one file', async () => {
      const d = await dir()
      const files = Array.from({ length: 8 }, () => randomBytes(2 * MiB + Math.floor(Math.random() * MiB)))
      await Promise.all(files.map(async (data, i) => {
        const fd = await t.open(`${d}/c${i}`, RW_CREATE, 0o644)
        await writeAll(t, fd, data, 0, 64 * 1024 + i * 1000)
        await t.close(fd)
      }))
      for (let i = 0; i < files.length; i++) assert.equal(sha(await t.readFile(`${d}/c${i}`)), sha(files[i]))
      const whole = randomBytes(6 * MiB)
      const fds = await Promise.all([0, 1, 2].map(async () => await t.open(`${d}/shared`, RW_CREATE, 0o644)))
      await Promise.all(fds.map(async (fd, i) => { await writeAll(t, fd, whole.subarray(i * 2 * MiB, (i + 1) * 2 * MiB), i * 2 * MiB, 100_000) }))
      await Promise.all(fds.map(async (fd) => { await t.close(fd) }))
      assert.equal(sha(await t.readFile(`${d}/shared`)), sha(whole))
    })

    it('makes fsync a durable point without losing later writes', async () => {
      const d = await dir()
      const data = randomBytes(3 * MiB)
      const fd = await t.open(`${d}/f`, RW_CREATE, 0o644)
      await writeAll(t, fd, data.subarray(0, 2 * MiB))
      await t.fsync(fd)
      await writeAll(t, fd, data.subarray(2 * MiB), 2 * MiB)
      await t.fsync(fd)
      await t.close(fd)
      assert.equal(sha(await t.readFile(`${d}/f`)), sha(data))
    })
  })

  describe('POSIX semantics on a small store', () => {
    it('gives ENOSPC when full and loses nothing written before', async (tc) => {
      const t = await options.setup({ capacityBytes: 12 * MiB })
      if (t == null) { tc.skip('target cannot limit its capacity'); return }
      try {
        const keep = randomBytes(3 * MiB)
        await t.writeFile('/keep', keep)
        let failure: unknown
        try {
          const fd = await t.open('/fill', RW_CREATE, 0o644)
          try {
            await writeAll(t, fd, randomBytes(64 * MiB))
            await t.fsync(fd)
          } finally {
            await t.close(fd).catch((err) => { failure ??= err })
          }
        } catch (err) {
          failure ??= err
        }
        assert.ok(failure != null, 'filling the store must fail')
        assert.equal((failure as { code?: unknown }).code, 'ENOSPC', (failure as Error).message)
        assert.equal(sha(await t.readFile('/keep')), sha(keep))
      } finally {
        await options.teardown(t)
      }
    })
  })
}
