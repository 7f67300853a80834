/**
 * The FUSE adapter (src/fuse/ops.ts) over a real VFS stack: errno mapping in one place, and the
 * per-op deadline that answers EIO (with a log line) when a layer below hangs, while other ops keep
 * working. The stripe store is made to hang by wrapping the real one (fault injection, not a mock).
 */
import assert from 'node:assert/strict'
import { constants } from 'node:os'
import { describe, it } from 'node:test'
import { createFuseOps, FuseErrno, toErrno } from '../../../src/fuse/index.js'
import * as E from '../../../src/errors.js'
import { prefixLogger } from '../../../src/util/logger.js'
import type { StripeIO } from '../../../src/place/types.js'
import { createVfsStack } from '../vfs/stack.js'

const errno = constants.errno as Record<string, number>
const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const log = prefixLogger('fuse-test').forComponent('palm:fuse')
const direntSize = (name: string, plus: boolean): number => ((plus ? 152 : 24) + Buffer.byteLength(name) + 7) & ~7

describe('toErrno', () => {
  it('maps every PalmError by its code, passes Node system errors through, and makes the rest EIO', () => {
    assert.equal(toErrno(new E.NotFoundError('x')), -errno.ENOENT)
    assert.equal(toErrno(new E.NotEmptyError('x')), -errno.ENOTEMPTY)
    assert.equal(toErrno(new E.NoSpaceError('x')), -errno.ENOSPC)
    assert.equal(toErrno(new E.QuotaExceededError('x')), -errno.EDQUOT)
    assert.equal(toErrno(new E.NameTooLongError('x')), -errno.ENAMETOOLONG)
    assert.equal(toErrno(new E.FragmentsUnavailableError('x', { found: 1, needed: 4 })), -errno.EIO)
    assert.equal(toErrno(new E.IntegrityError('x')), -errno.EIO)
    assert.equal(toErrno(Object.assign(new Error('disk'), { code: 'ENOSPC' })), -errno.ENOSPC)
    assert.equal(toErrno(new TypeError('bug')), -errno.EIO)
    assert.equal(toErrno('a string'), -errno.EIO)
    assert.equal(toErrno(Object.assign(new Error('odd'), { code: 'ERR_SOMETHING' })), -errno.EIO)
  })
})

describe('FUSE ops over a real VFS', () => {
  it('answers ENOENT, EEXIST and ENOTEMPTY as the VFS says', async (t) => {
    const { vfs } = await createVfsStack(t)
    const ops = createFuseOps(vfs, log, { direntSize })
    await assert.rejects(ops.lookup(ctx, 1, 'missing'), (e: FuseErrno) => e.errno === -errno.ENOENT)
    const dir = await ops.mkdir(ctx, 1, 'd', 0o755)
    await assert.rejects(ops.mkdir(ctx, 1, 'd', 0o755), (e: FuseErrno) => e.errno === -errno.EEXIST)
    await ops.create(ctx, dir.attr.ino, 'f', 0o644, 2)
    await assert.rejects(ops.rmdir(ctx, 1, 'd'), (e: FuseErrno) => e.errno === -errno.ENOTEMPTY)
    await assert.rejects(ops.lookup(ctx, 1, 'x'.repeat(256)), (e: FuseErrno) => e.errno === -errno.ENAMETOOLONG)
  })

  it('answers EIO at its deadline when the stripe store hangs, and other ops keep working', async (t) => {
    let hang = false
    const { vfs } = await createVfsStack(t, {
      wrapStripes: (s: StripeIO): StripeIO => ({
        ...s,
        read: async (stripe, options) => hang ? await new Promise<never>(() => {}) : await s.read(stripe, options),
        write: s.write.bind(s),
        sync: s.sync.bind(s),
        health: s.health.bind(s),
        usage: s.usage.bind(s)
      }),
      vfs: { cacheLimitBytes: 0 }
    })
    const ops = createFuseOps(vfs, log, { direntSize, opTimeoutMs: 300 })
    const f = await ops.create(ctx, 1, 'f', 0o644, 2)
    await ops.write(ctx, f.attr.ino, f.fh, 0, new Uint8Array(100_000).fill(7), 0)
    await ops.release(ctx, f.attr.ino, f.fh, 0)
    hang = true
    const r = await ops.open(ctx, f.attr.ino, 0)
    const started = Date.now()
    await assert.rejects(ops.read(ctx, f.attr.ino, r.fh, 0, 4096), (e: FuseErrno) => e.errno === -errno.EIO)
    assert.ok(Date.now() - started >= 250, 'answered at the deadline, not before')
    // The mount stays usable: metadata ops do not wait on the hung read.
    assert.equal((await ops.getattr(ctx, f.attr.ino, undefined)).attr.size, 100_000)
    const d = await ops.opendir(ctx, 1, 0)
    assert.ok((await ops.readdir(ctx, 1, d.fh, 0, 4096, false)).some(e => e.name === 'f'))
    await ops.releasedir(ctx, 1, d.fh)
    hang = false
  })
})
