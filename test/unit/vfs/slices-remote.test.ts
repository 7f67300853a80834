/**
 * Slices across devices (docs/journal.md, "Slices"): device A's small overwrites reach device B as
 * appended slices, and B's VFS, holding the file open, reads A's bytes each time; B's own slice
 * over them, then a concurrent slice of A, leave B with A's version under the name (cut back to
 * the slices A saw) and B's in the conflict copy, each byte-exact. Real parts: two SQLite journal
 * files, two VFSs, one local StripeIO over one file fragment store (test/helpers/two-devices.ts).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { ROOT_INO } from '../../../src/meta/types.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { openTwoDevices, type Device } from '../../helpers/two-devices.js'

const O_RDONLY = 0
const O_RDWR = 2
const ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022 }
const SS = 1024 * 1024
const SIZE = 2 * SS

/** Writes `page` at `off` of /f on `d` through an open handle and fsyncs. */
async function overwrite (d: Device, ino: number, fh: number, off: number, page: Buffer): Promise<void> {
  await d.vfs.write(ctx, ino, fh, off, page, O_RDWR)
  await d.vfs.fsync(ctx, ino, fh, false)
}

async function readAll (d: Device, ino: number): Promise<Buffer> {
  const h = await d.vfs.open(ctx, ino, O_RDONLY)
  try {
    return Buffer.from(await d.vfs.read(ctx, ino, h.fh, 0, SIZE))
  } finally {
    await d.vfs.release(ctx, ino, h.fh, O_RDONLY)
  }
}

it('B follows A\'s slices with the file open; concurrent slices leave A\'s version under the name and B\'s in the copy', async (t) => {
  const dir = await createTempDir(t, 'palm-slices-remote-')
  const { a, b, ship, close } = await openTwoDevices({ dir, vfs: { stripeSizeBytes: SS } })
  onCleanup(t, close)
  const expected = randomBytes(SIZE)
  await a.target.writeFile('/f', expected)
  await ship()
  const fa = await a.vfs.lookup(ctx, ROOT_INO, 'f')
  const ha = await a.vfs.open(ctx, fa.ino, O_RDWR)
  onCleanup(t, async () => { await a.vfs.release(ctx, fa.ino, ha.fh, O_RDWR).catch(() => {}) })
  const fb = await b.vfs.lookup(ctx, ROOT_INO, 'f')
  const hb = await b.vfs.open(ctx, fb.ino, O_RDWR)
  onCleanup(t, async () => { await b.vfs.release(ctx, fb.ino, hb.fh, O_RDWR).catch(() => {}) })
  assert.ok(Buffer.from(await b.vfs.read(ctx, fb.ino, hb.fh, 0, SIZE)).equals(expected))
  for (const off of [100, SS + 5000, 200]) {
    const page = randomBytes(4096)
    await overwrite(a, fa.ino, ha.fh, off, page)
    page.copy(expected, off)
    await ship()
    await pWaitFor(async () => Buffer.from(await b.vfs.read(ctx, fb.ino, hb.fh, 0, SIZE)).equals(expected), { timeout: 10_000 })
  }
  assert.equal((await b.meta.getStripes(fb.ino, 0, 1))[0].slices?.length, 2, 'A\'s slices replicated as slices')

  // B lays its own slice over A's (not shipped to A), then A writes one more without seeing it.
  const mine = Buffer.from(expected)
  const pb = randomBytes(4096)
  await overwrite(b, fb.ino, hb.fh, 300, pb)
  pb.copy(mine, 300)
  assert.ok((await readAll(b, fb.ino)).equals(mine))
  assert.equal((await b.meta.getStripes(fb.ino, 0, 1))[0].slices?.length, 3)
  const pa = randomBytes(4096)
  await overwrite(a, fa.ino, ha.fh, 8192, pa)
  pa.copy(expected, 8192)
  await ship()
  // B's name: A's version (A's three slices, not B's); the conflict copy: B's version.
  await pWaitFor(async () => (await readAll(b, fb.ino)).equals(expected), { timeout: 10_000 })
  const [s0] = await b.meta.getStripes(fb.ino, 0, 1)
  assert.equal(s0.slices?.length, 3, 'cut back to the slices A saw, then A\'s')
  const copy = (await b.meta.readdir(ROOT_INO, 0, 10)).find(e => e.name.includes('conflict'))
  assert.ok(copy != null, 'a conflict copy')
  await b.vfs.lookup(ctx, ROOT_INO, copy.name)
  assert.ok((await readAll(b, copy.ino)).equals(mine), 'the copy holds B\'s version byte-exact')
})
