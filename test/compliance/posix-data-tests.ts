/**
 * The POSIX suite's data tests: file contents across stripe boundaries, sharing between
 * descriptors and hard links, unlink while open, mtime, truncate, holes, a 64 GiB sparse file,
 * random writes, concurrent writers and fsync. Called by posixTests inside its describe.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { it } from 'node:test'
import { GiB, MiB, RW_CREATE, S_IFMT, S_IFREG, rejectsWith, sha, str, text, writeAll } from './posix-helpers.js'
import type { PosixTarget } from './posix-target.js'

export interface PosixSuiteContext {
  /** The suite's shared target (valid once the suite's before hook ran). */
  target: () => PosixTarget
  /** A fresh directory for one test. */
  dir: () => Promise<string>
}

export function posixDataTests (suite: PosixSuiteContext): void {
  const dir = suite.dir
    it('round-trips files of many sizes, across stripe boundaries', async () => {
      const t = suite.target()
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

    it('shares writes between two descriptors and two hard links at once', async () => {
      const t = suite.target()
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

    it('keeps an unlinked file readable and writable until it is closed', async () => {
      const t = suite.target()
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

    it('updates mtime on write and keeps it after close', async () => {
      const t = suite.target()
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
      const t = suite.target()
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
      const t = suite.target()
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
      const t = suite.target()
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
      const t = suite.target()
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

    it('survives concurrent writers on many files and on one file', async () => {
      const t = suite.target()
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
      const t = suite.target()
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
}
