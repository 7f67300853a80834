/**
 * The POSIX suite (rclone vfstest style): the same tests run against the VFS in-process and
 * against a real mount. Tests speak only of what a program sees: bytes, stat fields and errno
 * `code`s, never VFS internals. Each test works in its own directory of one shared target;
 * tests that need a special file system (a tiny store) set up their own.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { posixDataTests } from './posix-data-tests.js'
import { MiB, RW_CREATE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, rejectsWith, sha, str, text, writeAll } from './posix-helpers.js'
import {
  RENAME_EXCHANGE, RENAME_NOREPLACE, XATTR_CREATE, XATTR_REPLACE,
  type PosixSuiteOptions, type PosixTarget
} from './posix-target.js'

export * from './posix-target.js'
export { rejectsWith } from './posix-helpers.js'

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

    posixDataTests({ target: () => t, dir })

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
      const m = /^reachable (\d+), needed (\d+), total (\d+); devices: /.exec(health)
      assert.ok(m != null, `health "${health}"`)
      assert.equal(Number(m[2]), 2)
      assert.equal(Number(m[3]), 3)
      assert.ok(Number(m[1]) >= Number(m[2]))
      // Computed names are read by name and never listed (as CephFS's ceph.*), so cp -a, rsync -X
      // and tar --xattrs do not carry them; only a policy set on a directory is a real attribute.
      const palmNames = async (p: string): Promise<string[]> => (await t.listxattr(p)).filter(n => n.startsWith('user.palm'))
      assert.deepEqual(await palmNames(`${d}/a/f`), [])
      assert.deepEqual(await palmNames(`${d}/a/b/c/g`), [])
      assert.deepEqual(await palmNames(`${d}/a/b/c`), [])
      assert.deepEqual(await palmNames(`${d}/a/b`), ['user.palm.policy'])
      // A directory without a policy of its own tells by name what its new files get.
      assert.equal(str(await t.getxattr(`${d}/a/b/c`, 'user.palm.policy')), '1-of-2')
      // Health cannot be written: EPERM, and it stays what it was.
      await rejectsWith(t.setxattr(`${d}/a/f`, 'user.palm.health', text('9/9/9')), 'EPERM')
      await rejectsWith(t.setxattr(`${d}/a`, 'user.palm.health', text('9/9/9')), 'EPERM')
      await rejectsWith(t.removexattr(`${d}/a/f`, 'user.palm.health'), 'EPERM')
      assert.equal(str(await t.getxattr(`${d}/a/f`, 'user.palm.health')), health)
      assert.equal(sha(await t.readFile(`${d}/a/f`)).length, 64)
    })

    it('reports the file system size with statfs', async () => {
      const s = await t.statfs('/')
      assert.ok(s.bsize > 0)
      assert.ok(s.blocks > 0)
      assert.ok(s.bavail <= s.blocks && s.bfree <= s.blocks)
      assert.ok(s.ffree > 0)
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
