/**
 * The binding's data path against the in-memory test file system served in a child process:
 * write sizes, 64-bit offsets, renames of open files, and a 10,000-entry directory.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { fuseSkipReason, runTool, startMemfsMount } from '../../helpers/fuse-mount.js'
import { createTempDir } from '../../helpers/tmp.js'

const skip = fuseSkipReason()
const MiB = 1024 * 1024

describe('FUSE binding: data path', { skip }, () => {
  for (const threads of [0, 2]) {
    it(`receives dd bs=1M as writes of at least 128 KiB, and the bytes arrive intact (threads ${threads})`, async (t) => {
      const m = await startMemfsMount(t, { mount: { threads } })
      const src = `${await createTempDir(t, 'palm-fuse-src-')}/src`
      await writeFile(src, randomBytes(8 * MiB))
      const r = await runTool('dd', [`if=${src}`, `of=${m.dir}/big`, 'bs=1M', 'conv=fsync'])
      assert.equal(r.code, 0, r.stderr)
      const s = await m.stats()
      assert.equal(s.binding.maxWrite, MiB, 'the kernel agreed to 1 MiB writes')
      assert.equal(s.fs.writeBytes, 8 * MiB)
      assert.ok(s.fs.writeMin >= 128 * 1024, `smallest write was ${s.fs.writeMin} bytes`)
      assert.equal(s.fs.writeMax, MiB)
      assert.deepEqual(await readFile(`${m.dir}/big`), await readFile(src))
    })
  }

  it('writes, reads and truncates at offsets past 4 GiB', async (t) => {
    const m = await startMemfsMount(t)
    const off = 5 * 1024 * MiB + 123
    const fh = await open(`${m.dir}/sparse`, 'w+')
    try {
      await fh.write(Buffer.from('PALM-5GiB'), 0, 9, off)
      assert.equal((await fh.stat()).size, off + 9)
      assert.equal((await m.stats()).fs.lastWriteOffset, off)
      const hole = Buffer.alloc(4, 1)
      await fh.read(hole, 0, 4, 4 * 1024 * MiB + 1)
      assert.deepEqual(hole, Buffer.alloc(4), 'a hole reads as zeros')
      await fh.truncate(off + 4)
    } finally {
      await fh.close()
    }
    assert.equal((await stat(`${m.dir}/sparse`)).size, off + 4)
    const again = await open(`${m.dir}/sparse`, 'r')
    try {
      const b = Buffer.alloc(9)
      const { bytesRead } = await again.read(b, 0, 9, off)
      assert.equal(b.subarray(0, bytesRead).toString(), 'PALM')
    } finally {
      await again.close()
    }
  })

  it('keeps writing through an open file that is renamed, and over a replaced open target', async (t) => {
    const m = await startMemfsMount(t)
    const a = `${m.dir}/a`
    const b = `${m.dir}/b`
    const c = `${m.dir}/c`
    const fa = await open(a, 'w+')
    await writeFile(c, 'old')
    const fc = await open(c, 'r')
    try {
      await fa.write('one')
      await rename(a, b)
      await fa.write('two')
      assert.equal((await fa.stat()).size, 6)
      assert.equal(await readFile(b, 'utf8'), 'onetwo')
      await assert.rejects(stat(a), { code: 'ENOENT' })
      await rename(b, c)
      assert.equal(await readFile(c, 'utf8'), 'onetwo')
      const old = Buffer.alloc(3)
      await fc.read(old, 0, 3, 0)
      assert.equal(old.toString(), 'old', 'the replaced file stays readable through its open fd')
    } finally {
      await fa.close()
      await fc.close()
    }
    await pWaitFor(async () => (await m.stats()).fs.openHandles === 0, { timeout: 5000 })
  })

  for (const readdirplus of [false, true] as const) {
    it(`lists a directory of 10,000 entries (readdirplus ${String(readdirplus)})`, async (t) => {
      const m = await startMemfsMount(t, { mount: { readdirplus } })
      await m.call({ cmd: 'populate', count: 10_000, prefix: 'entry-' })
      const names = await readdir(m.dir)
      assert.equal(names.length, 10_000)
      assert.equal(new Set(names).size, 10_000)
      for (let i = 0; i < 10_000; i += 997) assert.ok(names.includes(`entry-${i}`))
      const typed = await readdir(m.dir, { withFileTypes: true })
      assert.ok(typed.every(d => d.isFile()))
    })
  }

  it('counts exactly one kernel lookup per readdirplus entry sent, even when the handler overfills', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root to drop the kernel inode cache'); return }
    const m = await startMemfsMount(t, { mount: { readdirplus: true }, fs: { overfill: true } })
    // 20,000 readdirplus entries need several kernel buffers; the handler returns twice what fits
    await m.call({ cmd: 'populate', count: 20_000, prefix: 'p-' })
    assert.equal((await readdir(m.dir)).length, 20_000)
    const s = (await m.stats()).fs
    assert.ok(s.readdirEntries > 20_000 + 2, `the handler overfilled (${s.readdirEntries} entries returned)`)
    assert.ok(s.lookups > 0 && s.lookups <= 20_000, `the kernel holds ${s.lookups} references`)
    // Evicting the kernel's inodes makes it forget every reference it holds: the count must reach 0 exactly.
    await writeFile('/proc/sys/vm/drop_caches', '2')
    await pWaitFor(async () => (await m.stats()).fs.lookups === 0, { timeout: 10_000 })
    assert.equal((await m.stats()).fs.forgetUnderflows, 0)
  })
})
