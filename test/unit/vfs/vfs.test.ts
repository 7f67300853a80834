/**
 * VFS behaviour the POSIX suite cannot see from outside: lookup/open counting and inode release,
 * keepCache, readdirplus lookups, bounded dirty memory with early stores, pipelined stores,
 * deferred errors, the byte-bounded cache and read-ahead, and the small verbs (mknod, access,
 * fallocate, statfs, xattr namespaces). Real meta, chunk pool, store and StripeIO throughout.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { DEFAULT_STRIPE_SIZE_BYTES as CHUNK_STRIPE } from '../../../src/chunk/index.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import { createVfs, DEFAULT_STRIPE_SIZE_BYTES } from '../../../src/vfs/index.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { onCleanup } from '../../helpers/tmp.js'
import { VfsPosixTarget } from '../../helpers/vfs-posix-target.js'
import { rejectsWith } from '../../compliance/posix-tests.js'
import { createVfsStack, TEST_STRIPE_BYTES } from './stack.js'

const MiB = 1024 * 1024
const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('vfs', () => {
  it('uses the chunk layer default stripe size', () => {
    assert.equal(DEFAULT_STRIPE_SIZE_BYTES, CHUNK_STRIPE)
  })

  it('releases an unlinked inode only after the last close and the last forget', async (t) => {
    const { vfs, meta } = await createVfsStack(t)
    const c = await vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_RDWR)
    await vfs.write(ctx, c.attr.ino, c.fh, 0, Buffer.from('hello'), 0)
    await vfs.unlink(ctx, ROOT_INO, 'f')
    assert.equal((await meta.getattr(c.attr.ino)).nlink, 0)
    await vfs.flush(ctx, c.attr.ino, c.fh, 0n)
    await vfs.release(ctx, c.attr.ino, c.fh, 0)
    // The kernel still holds the create's lookup: the inode must still answer.
    assert.equal((await vfs.getattr(ctx, c.attr.ino, undefined)).nlink, 0)
    await vfs.forget(c.attr.ino, 1)
    await rejectsWith(meta.getattr(c.attr.ino), 'ENOENT')
    assert.equal(vfs.stats().trackedInodes, 0)
  })

  it('answers a read after the writes of its inode that arrived before it', async (t) => {
    // The kernel may read back a page whose WRITE it queued earlier (docs/vfs.md, "Readers of a
    // growing file"): that READ must see the write, even while the write still merges its stripe.
    const { vfs } = await createVfsStack(t)
    const c = await vfs.create(ctx, ROOT_INO, 'log', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    await vfs.write(ctx, ino, c.fh, 0, Buffer.from('first.'), 0)
    await vfs.flush(ctx, ino, c.fh, 0n) // committed: the next write loads the stripe to merge
    const r = await vfs.open(ctx, ino, C.O_RDONLY)
    for (let i = 0; i < 20; i++) {
      const record = Buffer.from(`record ${i};`)
      const at = Number((await vfs.getattr(ctx, ino, undefined)).size)
      // Both requests are taken in this order, as the binding takes them from /dev/fuse.
      const written = vfs.write(ctx, ino, c.fh, at, record, 0)
      const read = vfs.read(ctx, ino, r.fh, at, 4096)
      assert.equal(await written, record.length)
      assert.equal(Buffer.from(await read).toString(), record.toString(), `read of record ${i}`)
      if (i % 5 === 4) await vfs.fsync(ctx, ino, c.fh, false)
    }
    await vfs.release(ctx, ino, r.fh, 0)
    await vfs.release(ctx, ino, c.fh, 0)
  })

  it('releases a replaced inode when rename drops its last link and nothing holds it', async (t) => {
    const { vfs, meta, target } = await createVfsStack(t)
    await target.writeFile('/a', Buffer.from('A'))
    await target.writeFile('/b', Buffer.from('B'))
    const b = await vfs.lookup(ctx, ROOT_INO, 'b')
    await vfs.forget(b.ino, 1)
    await target.rename('/a', '/b')
    await rejectsWith(meta.getattr(b.ino), 'ENOENT')
  })

  it('returns keepCache only while the content is what the kernel cached', async (t) => {
    const { vfs } = await createVfsStack(t)
    const c = await vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    await vfs.write(ctx, ino, c.fh, 0, Buffer.from('one'), 0)
    await vfs.flush(ctx, ino, c.fh, 0n)
    await vfs.release(ctx, ino, c.fh, 0)
    const o1 = await vfs.open(ctx, ino, C.O_RDONLY)
    assert.equal(o1.keepCache, true, 'written through this kernel: its cache is current')
    await vfs.release(ctx, ino, o1.fh, 0)
    await vfs.setattr(ctx, ino, { mtime: 5_000_000_000n }, undefined)
    const o2 = await vfs.open(ctx, ino, C.O_RDONLY)
    await vfs.release(ctx, ino, o2.fh, 0)
    const o3 = await vfs.open(ctx, ino, C.O_RDONLY)
    assert.equal(o3.keepCache, true)
    await vfs.release(ctx, ino, o3.fh, 0)
    await vfs.forget(ino, 1)
    const again = await vfs.lookup(ctx, ROOT_INO, 'f')
    const o4 = await vfs.open(ctx, again.ino, C.O_RDONLY)
    assert.equal(o4.keepCache, false, 'after forget the kernel has no cache to keep')
    await vfs.release(ctx, ino, o4.fh, 0)
  })

  it('marks readdirplus entries that take a lookup, and gives their attrs', async (t) => {
    const { vfs, target } = await createVfsStack(t)
    await target.mkdir('/d')
    await target.writeFile('/d/x', Buffer.from('12345'))
    const d = await vfs.lookup(ctx, ROOT_INO, 'd')
    const { fh } = await vfs.opendir(ctx, d.ino, 0)
    const all = await vfs.readdir(ctx, d.ino, fh, 0, 10, true)
    assert.deepEqual(all.map(e => [e.name, e.countsLookup]), [['.', false], ['..', false], ['x', true]])
    assert.equal(all[2].attr?.size, 5)
    assert.equal(all[1].ino, ROOT_INO)
    const rest = await vfs.readdir(ctx, d.ino, fh, all[1].nextOffset, 10, false)
    assert.deepEqual(rest.map(e => e.name), ['x'])
    assert.equal(rest[0].attr, undefined)
    assert.deepEqual(await vfs.readdir(ctx, d.ino, fh, rest[0].nextOffset, 10, false), [])
    await vfs.releasedir(ctx, d.ino, fh)
  })

  it('keeps dirty memory under its budget while a large file is written sequentially', async (t) => {
    const limit = 3 * MiB
    const { vfs, target } = await createVfsStack(t, { vfs: { dirtyLimitBytes: limit, maxInflightStripes: 2 } })
    const data = randomBytes(40 * MiB)
    const fd = await target.open('/big', C.O_WRONLY | C.O_CREAT, 0o644)
    let peak = 0
    for (let o = 0; o < data.length; o += 256 * 1024) {
      await target.write(fd, data.subarray(o, o + 256 * 1024), o)
      peak = Math.max(peak, vfs.stats().dirtyBytes)
    }
    const before = vfs.stats()
    assert.ok(before.stripesStored + before.inflightStripes + before.queuedStripes >= 37, 'full stripes are stored while writing goes on')
    await target.close(fd)
    assert.ok(peak <= limit, `peak dirty ${peak} > limit ${limit}`)
    assert.equal(vfs.stats().dirtyBytes, 0)
    assert.equal(sha(await target.readFile('/big')), sha(data))
  })

  it('stores partial stripes early when random writes fill the budget', async (t) => {
    const limit = 2 * MiB
    const { vfs, target } = await createVfsStack(t, { vfs: { dirtyLimitBytes: limit } })
    const size = 16 * MiB
    const model = Buffer.alloc(size)
    const fd = await target.open('/r', C.O_RDWR | C.O_CREAT, 0o644)
    let peak = 0
    for (let i = 0; i < 200; i++) {
      const len = 1 + Math.floor(Math.random() * 60000)
      const at = Math.floor(Math.random() * (size - len))
      const chunk = randomBytes(len)
      chunk.copy(model, at)
      await target.write(fd, chunk, at)
      peak = Math.max(peak, vfs.stats().dirtyBytes)
    }
    const end = (await target.fstat(fd)).size
    assert.equal(sha(await target.read(fd, end, 0)), sha(model.subarray(0, end)))
    await target.close(fd)
    assert.ok(peak <= limit, `peak dirty ${peak} > limit ${limit}`)
    assert.equal(sha(await target.readFile('/r')), sha(model.subarray(0, end)))
  })

  it('reports a failed background store on the next call and keeps earlier files', async (t) => {
    const { vfs, target } = await createVfsStack(t, { capacityBytes: 3 * MiB + 4096 })
    const keep = randomBytes(MiB)
    await target.writeFile('/keep', keep)
    const fd = await target.open('/fill', C.O_WRONLY | C.O_CREAT, 0o644)
    const failures: string[] = []
    for (let o = 0; o < 8 * MiB; o += 128 * 1024) {
      await target.write(fd, randomBytes(128 * 1024), o).catch((err) => { failures.push(err.code) })
    }
    await target.fsync(fd).catch((err) => { failures.push(err.code) })
    await target.close(fd).catch((err) => { failures.push(err.code) })
    assert.ok(failures.length > 0, 'the failure must be reported')
    assert.ok(failures.every(code => code === 'ENOSPC'), failures.join(','))
    assert.equal(vfs.stats().dirtyBytes, 0, 'the last close drops what could not be stored')
    assert.equal(sha(await target.readFile('/keep')), sha(keep))
  })

  it('serves repeated reads from the byte-bounded cache and reads ahead for sequential readers', async (t) => {
    const stack = await createVfsStack(t)
    const data = randomBytes(12 * MiB)
    await stack.target.writeFile('/f', data)
    // A second VFS over the same journal and stripes: its cache starts empty.
    const vfs = createVfs({ stripeSizeBytes: TEST_STRIPE_BYTES, cacheLimitBytes: 6 * MiB, readAheadBytes: 4 * MiB }, { meta: stack.meta, stripes: stack.stripes, logger: prefixLogger('cold') })
    onCleanup(t, async () => { await vfs.stop() })
    const target = new VfsPosixTarget(vfs)
    const fd = await target.open('/f', C.O_RDONLY)
    await target.read(fd, 128 * 1024, 0)
    await target.read(fd, 128 * 1024, 128 * 1024)
    await target.read(fd, 128 * 1024, 256 * 1024)
    assert.equal(vfs.stats().cacheMisses, 1, 'stripe 0 came from the store')
    // Three sequential reads in stripe 0: stripes 1..4 are fetched ahead.
    await pWaitFor(() => vfs.stats().readAheadStripes >= 4, { timeout: 30_000 })
    await target.read(fd, 4 * TEST_STRIPE_BYTES - 384 * 1024, 384 * 1024)
    assert.equal(vfs.stats().cacheMisses, 1, 'stripes 1-3 were read ahead')
    assert.equal(sha(await target.read(fd, data.length, 0)), sha(data))
    await target.close(fd)
    const s = vfs.stats()
    assert.ok(s.cacheBytes <= 6 * MiB, `cache ${s.cacheBytes} over its limit`)
    assert.ok(s.cacheHits > 0 && s.cacheHitRate > 0)
  })

  it('gives up waiting for write-buffer space or for stores when the op is cancelled', async (t) => {
    // A real StripeIO whose writes wait at a gate the test opens: stores are slow, not fake.
    let open!: () => void
    const gate = new Promise<void>(resolve => { open = resolve })
    const { vfs } = await createVfsStack(t, {
      vfs: { dirtyLimitBytes: 2 * MiB },
      wrapStripes: (s) => ({
        write: async (stripe, policy, options) => { await gate; return await s.write(stripe, policy, options) },
        read: async (stripe, options) => await s.read(stripe, options),
        sync: async (stripes, options) => { await s.sync(stripes, options) },
        health: async (stripe, options) => await s.health(stripe, options),
        usage: () => s.usage()
      })
    })
    const c = await vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_RDWR)
    const data = randomBytes(3 * MiB)
    await vfs.write(ctx, c.attr.ino, c.fh, 0, data.subarray(0, MiB), 0)
    await vfs.write(ctx, c.attr.ino, c.fh, MiB, data.subarray(MiB, 2 * MiB), 0)
    const stuck = new AbortController()
    const pending = vfs.write(ctx, c.attr.ino, c.fh, 2 * MiB, data.subarray(2 * MiB), 0, { signal: stuck.signal })
    await pWaitFor(() => vfs.stats().dirtyWaiters === 1, { timeout: 10_000 })
    stuck.abort()
    await rejectsWith(pending, 'EINTR')
    await rejectsWith(vfs.flush(ctx, c.attr.ino, c.fh, 0n, { signal: AbortSignal.timeout(50) }), ['ETIMEDOUT', 'EINTR'])
    open()
    await vfs.write(ctx, c.attr.ino, c.fh, 2 * MiB, data.subarray(2 * MiB), 0)
    await vfs.flush(ctx, c.attr.ino, c.fh, 0n)
    assert.equal(sha(await vfs.read(ctx, c.attr.ino, c.fh, 0, 3 * MiB)), sha(data))
    await vfs.release(ctx, c.attr.ino, c.fh, 0)
  })

  it('holds files up to 2^53 - 1 bytes and refuses to grow past', async (t) => {
    const { vfs } = await createVfsStack(t)
    const max = Number.MAX_SAFE_INTEGER
    const c = await vfs.create(ctx, ROOT_INO, 'huge', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    await vfs.setattr(ctx, ino, { size: max }, c.fh)
    await vfs.write(ctx, ino, c.fh, max - 10, Buffer.from('0123456789'), 0)
    await vfs.write(ctx, ino, c.fh, 2 ** 40, Buffer.from('middle'), 0)
    await rejectsWith(vfs.write(ctx, ino, c.fh, max - 1, Buffer.from('xy'), 0), 'EFBIG')
    await rejectsWith(vfs.setattr(ctx, ino, { size: max + 1 }, c.fh), ['EFBIG', 'EINVAL'])
    await vfs.flush(ctx, ino, c.fh, 0n)
    await vfs.release(ctx, ino, c.fh, 0)
    const r = await vfs.open(ctx, ino, C.O_RDONLY)
    assert.equal((await vfs.getattr(ctx, ino, r.fh)).size, max)
    assert.equal(Buffer.from(await vfs.read(ctx, ino, r.fh, max - 10, 100)).toString(), '0123456789')
    assert.equal(Buffer.from(await vfs.read(ctx, ino, r.fh, 2 ** 40, 6)).toString(), 'middle')
    assert.ok((await vfs.read(ctx, ino, r.fh, 2 ** 50, 4096)).every(b => b === 0))
    await vfs.release(ctx, ino, r.fh, 0)
  })

  it('commits open files on stop', async (t) => {
    const stack = await createVfsStack(t)
    const c = await stack.vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_WRONLY)
    await stack.vfs.write(ctx, c.attr.ino, c.fh, 0, randomBytes(3 * MiB), 0)
    await stack.vfs.stop()
    assert.equal((await stack.meta.getattr(c.attr.ino)).size, 3 * MiB)
    assert.equal((await stack.meta.getStripes(c.attr.ino, 0, 10)).length, 3)
  })

  it('creates FIFOs and device nodes with mknod, not directories', async (t) => {
    const { vfs } = await createVfsStack(t)
    const fifo = await vfs.mknod(ctx, ROOT_INO, 'p', 0o010644, 0)
    assert.equal(fifo.type, 'fifo')
    assert.equal(fifo.mode, 0o644)
    const dev = await vfs.mknod(ctx, ROOT_INO, 'c', 0o020600, 0x0103)
    assert.equal(dev.type, 'char')
    assert.equal(dev.rdev, 0x0103)
    await rejectsWith(vfs.mknod(ctx, ROOT_INO, 'd', 0o040755, 0), 'EINVAL')
  })

  it('answers access from the mode bits', async (t) => {
    const { vfs } = await createVfsStack(t)
    const c = await vfs.create(ctx, ROOT_INO, 'f', 0o640, C.O_WRONLY)
    await vfs.release(ctx, c.attr.ino, c.fh, 0)
    await vfs.setattr(ctx, c.attr.ino, { uid: 1000, gid: 1000 }, undefined)
    const owner = { ...ctx, uid: 1000, gid: 1000 }
    const group = { ...ctx, uid: 2000, gid: 1000 }
    const other = { ...ctx, uid: 3000, gid: 3000 }
    await vfs.access(owner, c.attr.ino, 6)
    await vfs.access(group, c.attr.ino, 4)
    await rejectsWith(vfs.access(group, c.attr.ino, 2), 'EACCES')
    await rejectsWith(vfs.access(other, c.attr.ino, 4), 'EACCES')
    await vfs.access(other, c.attr.ino, 0)
    await rejectsWith(vfs.access(ctx, c.attr.ino, 1), 'EACCES')
  })

  it('fallocates: extends with a hole, keeps size, punches holes', async (t) => {
    const { vfs } = await createVfsStack(t)
    const c = await vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    const data = randomBytes(3 * MiB)
    await vfs.write(ctx, ino, c.fh, 0, data, 0)
    await vfs.fallocate(ctx, ino, c.fh, 0, 0, 5 * MiB)
    assert.equal((await vfs.getattr(ctx, ino, c.fh)).size, 5 * MiB)
    await vfs.fallocate(ctx, ino, c.fh, 1, 0, 9 * MiB)
    assert.equal((await vfs.getattr(ctx, ino, c.fh)).size, 5 * MiB)
    await vfs.flush(ctx, ino, c.fh, 0n)
    await vfs.fallocate(ctx, ino, c.fh, 3, 100, 2 * MiB)
    const back = await vfs.read(ctx, ino, c.fh, 0, 3 * MiB)
    assert.equal(sha(back.subarray(0, 100)), sha(data.subarray(0, 100)))
    assert.ok(back.subarray(100, 100 + 2 * MiB).every(b => b === 0))
    assert.equal(sha(back.subarray(100 + 2 * MiB)), sha(data.subarray(100 + 2 * MiB)))
    await rejectsWith(vfs.fallocate(ctx, ino, c.fh, 2, 0, 10), 'EOPNOTSUPP')
    await rejectsWith(vfs.fallocate(ctx, ino, c.fh, 0x10, 0, 10), 'EOPNOTSUPP')
    await vfs.release(ctx, ino, c.fh, 0)
  })

  it('reports statfs from the pool usage', async (t) => {
    const { vfs, stripes } = await createVfsStack(t, { capacityBytes: 64 * MiB })
    const s = await vfs.statfs(ctx, ROOT_INO)
    const u = stripes.usage()
    assert.equal(s.bsize, 4096)
    assert.equal(s.namemax, 255)
    assert.equal(s.blocks, Math.floor(u.usableCapacityBytes / 4096))
    assert.ok(s.bfree <= s.blocks)
  })

  it('accepts only user.* xattrs, on files and directories', async (t) => {
    const { vfs, target } = await createVfsStack(t)
    await target.writeFile('/f', Buffer.from('x'))
    await target.symlink('f', '/ln')
    const f = await vfs.lookup(ctx, ROOT_INO, 'f')
    const ln = await vfs.lookup(ctx, ROOT_INO, 'ln')
    await rejectsWith(vfs.setxattr(ctx, f.ino, 'trusted.x', Buffer.from('v'), 0), 'EOPNOTSUPP')
    await rejectsWith(vfs.setxattr(ctx, f.ino, 'user.' + 'x'.repeat(300), Buffer.from('v'), 0), 'ERANGE')
    await rejectsWith(vfs.setxattr(ctx, f.ino, 'user.big', Buffer.alloc(65537), 0), 'E2BIG')
    await rejectsWith(vfs.setxattr(ctx, ln.ino, 'user.x', Buffer.from('v'), 0), 'EPERM')
    await rejectsWith(vfs.getxattr(ctx, ln.ino, 'user.x'), 'ENODATA')
    assert.deepEqual(await vfs.listxattr(ctx, ln.ino), [])
    const health = Buffer.from(await vfs.getxattr(ctx, f.ino, 'user.palm.health')).toString()
    assert.match(health, /^reachable 1, needed 1, total 1; devices: device-test$/)
    assert.equal(Buffer.from(await vfs.getxattr(ctx, f.ino, 'user.palm.policy')).toString(), '1-of-1')
    await vfs.setxattr(ctx, f.ino, 'user.palm.policy', Buffer.from(' 2 -of- 3 '), 0)
    assert.equal(Buffer.from(await vfs.getxattr(ctx, f.ino, 'user.palm.policy')).toString(), '2-of-3')
  })

  it('reads computed xattrs by name but never lists them; user.palm.health is read-only', async (t) => {
    const { vfs, target } = await createVfsStack(t)
    await target.mkdir('/d')
    await target.mkdir('/d/e')
    await target.setxattr('/d', 'user.palm.policy', Buffer.from('1-of-2'))
    await target.writeFile('/d/f', Buffer.from('x'))
    await target.setxattr('/d/f', 'user.note', Buffer.from('n'))
    const d = await vfs.lookup(ctx, ROOT_INO, 'd')
    const e = await vfs.lookup(ctx, d.ino, 'e')
    const f = await vfs.lookup(ctx, d.ino, 'f')
    // The file recorded its folder's policy: readable, not listed.
    assert.equal(Buffer.from(await vfs.getxattr(ctx, f.ino, 'user.palm.policy')).toString(), '1-of-2')
    assert.match(Buffer.from(await vfs.getxattr(ctx, f.ino, 'user.palm.health')).toString(), /^reachable \d+, needed 1, total 2; devices: /)
    assert.deepEqual(await vfs.listxattr(ctx, f.ino), ['user.note'])
    // A folder lists the policy set on it; a folder below tells its inherited one by name only.
    assert.deepEqual(await vfs.listxattr(ctx, d.ino), ['user.palm.policy'])
    assert.deepEqual(await vfs.listxattr(ctx, e.ino), [])
    assert.equal(Buffer.from(await vfs.getxattr(ctx, e.ino, 'user.palm.policy')).toString(), '1-of-2')
    await rejectsWith(vfs.removexattr(ctx, e.ino, 'user.palm.policy'), 'ENODATA')
    for (const ino of [f.ino, d.ino]) {
      await rejectsWith(vfs.setxattr(ctx, ino, 'user.palm.health', Buffer.from('9/9/9'), 0), 'EPERM')
      await rejectsWith(vfs.removexattr(ctx, ino, 'user.palm.health'), 'EPERM')
    }
  })

  it('refuses bad names before touching meta', async (t) => {
    const { vfs } = await createVfsStack(t)
    await rejectsWith(vfs.mkdir(ctx, ROOT_INO, 'a/b', 0o755), 'EINVAL')
    await rejectsWith(vfs.mkdir(ctx, ROOT_INO, '', 0o755), 'EINVAL')
    await rejectsWith(vfs.mkdir(ctx, ROOT_INO, '.', 0o755), 'EEXIST')
    await rejectsWith(vfs.rmdir(ctx, ROOT_INO, '.'), 'EINVAL')
    await rejectsWith(vfs.rmdir(ctx, ROOT_INO, '..'), 'ENOTEMPTY')
    await rejectsWith(vfs.unlink(ctx, ROOT_INO, '..'), 'EISDIR')
    await rejectsWith(vfs.rename(ctx, ROOT_INO, '.', ROOT_INO, 'x', 0), 'EBUSY')
    await rejectsWith(vfs.rename(ctx, ROOT_INO, 'a', ROOT_INO, 'b', 3), 'EINVAL')
    const c = await vfs.create(ctx, ROOT_INO, 'file', 0o644, C.O_RDONLY)
    await rejectsWith(vfs.mkdir(ctx, c.attr.ino, 'sub', 0o755), 'ENOTDIR')
    await rejectsWith(vfs.write(ctx, c.attr.ino, c.fh, 0, Buffer.from('x'), 0), 'EBADF')
    await rejectsWith(vfs.read(ctx, c.attr.ino, 12345, 0, 10), 'EBADF')
    await vfs.release(ctx, c.attr.ino, c.fh, 0)
  })

  it('refuses every change when read-only', async (t) => {
    const { vfs } = await createVfsStack(t, { vfs: { readOnly: true } })
    await rejectsWith(vfs.mkdir(ctx, ROOT_INO, 'a', 0o755), 'EROFS')
    await rejectsWith(vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_WRONLY), 'EROFS')
    await rejectsWith(vfs.setxattr(ctx, ROOT_INO, 'user.a', Buffer.from('v'), 0), 'EROFS')
    assert.equal((await vfs.getattr(ctx, ROOT_INO, undefined)).type, 'dir')
  })
})
