/**
 * Times in nanoseconds (signed, UTIME_NOW/UTIME_OMIT honoured) and hard links that agree through
 * every name at once: the two defects of the libfuse 2 path API this binding exists to fix.
 */
import assert from 'node:assert/strict'
import { link, open, stat, unlink, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { fuseSkipReason, runTool, startMemfsMount } from '../../helpers/fuse-mount.js'

const skip = fuseSkipReason()

async function times (path: string): Promise<{ a: bigint, m: bigint, c: bigint }> {
  const s = await stat(path, { bigint: true })
  return { a: s.atimeNs, m: s.mtimeNs, c: s.ctimeNs }
}

async function touch (...args: string[]): Promise<void> {
  const r = await runTool('touch', args)
  assert.equal(r.code, 0, r.stderr)
}

describe('FUSE binding: times', { skip }, () => {
  // attribute caching off: every stat below reads what the file system stored
  const opts = { mount: { attrTimeoutSec: 0, entryTimeoutSec: 0 } }

  it('round-trips nanoseconds, and touch -m / touch -a change only their own time', async (t) => {
    const m = await startMemfsMount(t, opts)
    const f = `${m.dir}/f`
    await writeFile(f, 'x')
    await touch('-d', '@1700000000.123456789', f)
    assert.deepEqual(await times(f).then(x => [x.a, x.m]), [1700000000123456789n, 1700000000123456789n])
    await touch('-m', '-d', '@2000.25', f)
    assert.deepEqual(await times(f).then(x => [x.a, x.m]), [1700000000123456789n, 2000250000000n])
    await touch('-a', '-d', '@3000.000000001', f)
    assert.deepEqual(await times(f).then(x => [x.a, x.m]), [3000000000001n, 2000250000000n])
  })

  it('stores times before 1970', async (t) => {
    const m = await startMemfsMount(t, opts)
    const f = `${m.dir}/old`
    await writeFile(f, 'x')
    await touch('-d', '@-1.25', f)
    assert.deepEqual(await times(f).then(x => [x.a, x.m]), [-1250000000n, -1250000000n])
    await touch('-m', '-d', '@-86400000.5', f)
    assert.deepEqual(await times(f).then(x => [x.a, x.m]), [-1250000000n, -86400000500000000n])
  })

  it('sets "now" for one time only (UTIME_NOW with UTIME_OMIT) and moves ctime', async (t) => {
    const m = await startMemfsMount(t, opts)
    const f = `${m.dir}/now`
    await writeFile(f, 'x')
    await touch('-d', '@1000', f)
    const before = await times(f)
    await touch('-m', f)
    const after = await times(f)
    const nowNs = BigInt(Date.now()) * 1_000_000n
    assert.equal(after.a, 1000_000000000n, 'atime untouched')
    assert.ok(after.m > nowNs - 60_000_000_000n && after.m <= nowNs + 5_000_000_000n, `mtime ${after.m} is now`)
    assert.ok(after.c >= before.c, 'ctime moved forward')
  })
})

describe('FUSE binding: hard links', { skip }, () => {
  it('shows a write or truncate through one name at once through the others (fd and stat)', async (t) => {
    // default (1 s) attribute caching: one inode for all names is what keeps them in step
    const m = await startMemfsMount(t)
    const [f1, f2, f3] = ['one', 'two', 'three'].map(n => `${m.dir}/${n}`)
    await writeFile(f1, 'abcdef')
    await link(f1, f2)
    await link(f1, f3)
    const s = await Promise.all([f1, f2, f3].map(async f => await stat(f)))
    assert.deepEqual(s.map(x => x.nlink), [3, 3, 3])
    assert.equal(new Set(s.map(x => x.ino)).size, 1)
    assert.ok(s[0].ino > 2 ** 32, `inode ${s[0].ino} travels as 64 bits`)

    const fd1 = await open(f1, 'r+')
    const fd2 = await open(f2, 'r')
    const fd3 = await open(f3, 'r+')
    try {
      await fd1.write(Buffer.from('XY'), 0, 2, 0)
      const b = Buffer.alloc(16)
      let r = await fd2.read(b, 0, 16, 0)
      assert.equal(b.subarray(0, r.bytesRead).toString(), 'XYcdef')
      await fd1.write(Buffer.from('ghi'), 0, 3, 6)
      assert.equal((await stat(f3)).size, 9)
      assert.equal((await fd2.stat()).size, 9)
      await fd3.truncate(2)
      assert.equal((await stat(f2)).size, 2)
      r = await fd1.read(b, 0, 16, 0)
      assert.equal(b.subarray(0, r.bytesRead).toString(), 'XY')
      await unlink(f3)
      assert.equal((await stat(f1)).nlink, 2)
      assert.equal((await fd3.stat()).nlink, 2)
      await unlink(f2)
      assert.equal((await fd2.stat()).nlink, 1)
      r = await fd2.read(b, 0, 16, 0)
      assert.equal(b.subarray(0, r.bytesRead).toString(), 'XY', 'an unlinked name\'s fd still reads the file')
    } finally {
      await Promise.all([fd1.close(), fd2.close(), fd3.close()])
    }
    assert.equal((await stat(f1)).nlink, 1)
  })
})
