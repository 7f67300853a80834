/**
 * The VFS and remote changes: device A writes through its VFS, its ops are applied to device B's
 * journal (applyOp), and B's VFS must drop what it cached (keepCache stamp, ref windows, a clean
 * open-file state), list for the kernel what it may hold, and never lose B's own dirty data.
 * Real parts: two SQLite journal files, two VFSs, one local StripeIO over one file fragment store.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import pWaitFor from 'p-wait-for'
import { ROOT_INO } from '../../../src/meta/types.js'
import type { VfsInvalidation } from '../../../src/vfs/index.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { openTwoDevices, type TwoDevices } from '../../helpers/two-devices.js'

const O_RDONLY = 0
const O_RDWR = 2
const ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022 }

async function twoDevices (t: TestContext): Promise<TwoDevices & { invalidations: VfsInvalidation[] }> {
  const dir = await createTempDir(t, 'palm-remote-')
  const d = await openTwoDevices({ dir })
  onCleanup(t, d.close)
  const invalidations: VfsInvalidation[] = []
  onCleanup(t, d.b.vfs.onInvalidate(inv => { invalidations.push(inv) }))
  return { ...d, invalidations }
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('VFS: changes from another device', () => {
  it('a remote rewrite with the same size and mtime still makes the next open drop the kernel\'s pages', async (t) => {
    const { a, b, ship, invalidations } = await twoDevices(t)
    await a.target.writeFile('/f', bytes('version one'))
    const { mtimeNs } = await a.target.stat('/f')
    await ship()
    const f = await b.vfs.lookup(ctx, ROOT_INO, 'f') // the kernel now holds f
    const readAll = async (): Promise<{ keepCache: boolean, data: string }> => {
      const h = await b.vfs.open(ctx, f.ino, O_RDONLY)
      const data = text(await b.vfs.read(ctx, f.ino, h.fh, 0, 100))
      await b.vfs.release(ctx, f.ino, h.fh, O_RDONLY)
      return { keepCache: h.keepCache, data }
    }
    assert.deepEqual(await readAll(), { keepCache: false, data: 'version one' })
    assert.deepEqual(await readAll(), { keepCache: true, data: 'version one' }, 'unchanged: the kernel keeps its pages')

    // Same length, and the old mtime put back (cp -p, rsync -t): size and mtime do not tell.
    await a.target.writeFile('/f', bytes('version two'))
    await a.target.utimens('/f', mtimeNs, mtimeNs)
    await ship()
    assert.equal((await b.vfs.getattr(ctx, f.ino, undefined)).mtimeNs, mtimeNs)
    assert.ok(invalidations.some(inv => inv.data.includes(f.ino)), 'the kernel is told to drop the pages')
    assert.deepEqual(await readAll(), { keepCache: false, data: 'version two' })
  })

  it('lists for the kernel only what it can hold: names under held directories, held inodes', async (t) => {
    const { a, b, ship, invalidations } = await twoDevices(t)
    await a.target.mkdir('/held')
    await a.target.mkdir('/unseen')
    await a.target.writeFile('/held/x', bytes('x'))
    await ship()
    const held = await b.vfs.lookup(ctx, ROOT_INO, 'held')
    const x = await b.vfs.lookup(ctx, held.ino, 'x')
    invalidations.length = 0
    await a.target.writeFile('/unseen/y', bytes('y'))
    await a.target.rename('/held/x', '/held/z')
    await a.target.writeFile('/root-file', bytes('r'))
    await ship()
    const entries = invalidations.flatMap(i => i.entries)
    const has = (parent: number, name: string): boolean => entries.some(e => e.parent === parent && e.name === name)
    assert.ok(has(held.ino, 'x') && has(held.ino, 'z'), 'both names of the rename')
    assert.ok(has(ROOT_INO, 'root-file'))
    assert.ok(!entries.some(e => e.name === 'y'), 'nothing under a directory the kernel never looked up')
    assert.ok(invalidations.some(i => i.attrs.includes(held.ino)), 'the directory\'s attributes (mtime)')
    assert.ok(invalidations.some(i => i.attrs.includes(x.ino)), 'the renamed inode (ctime)')
    // B's own changes are never listed: they went through the kernel.
    invalidations.length = 0
    await b.target.writeFile('/held/local', bytes('l'))
    await b.meta.pathOf(held.ino) // waits until B's ops are committed (and reported)
    assert.deepEqual(invalidations, [])
  })

  it('a file open here with nothing uncommitted follows the remote change; dirty local data is kept', async (t) => {
    const { a, b, ship } = await twoDevices(t)
    await a.target.writeFile('/f', bytes('0123456789'))
    await ship()
    const f = await b.vfs.lookup(ctx, ROOT_INO, 'f')
    const h = await b.vfs.open(ctx, f.ino, O_RDWR)
    onCleanup(t, async () => { await b.vfs.release(ctx, f.ino, h.fh, O_RDWR).catch(() => {}) })
    // Written and flushed here: the open-file state stays (the handle is open) but is clean.
    await b.vfs.write(ctx, f.ino, h.fh, 0, bytes('AB'), O_RDWR)
    await b.vfs.flush(ctx, f.ino, h.fh, 0n)
    await a.target.writeFile('/f', bytes('a longer remote version'))
    await ship()
    // The clean state is dropped under the inode lock (a moment later).
    await pWaitFor(async () => (await b.vfs.getattr(ctx, f.ino, undefined)).size === 23, { timeout: 10_000 })
    assert.equal(text(await b.vfs.read(ctx, f.ino, h.fh, 0, 100)), 'a longer remote version')

    // Now dirty here, then changed remotely: the local bytes stay what this VFS shows.
    await b.vfs.write(ctx, f.ino, h.fh, 0, bytes('LOCAL'), O_RDWR)
    await a.target.writeFile('/f', bytes('short'))
    await ship()
    assert.equal(text(await b.vfs.read(ctx, f.ino, h.fh, 0, 5)), 'LOCAL')
    assert.equal((await b.vfs.getattr(ctx, f.ino, undefined)).size, 23, 'the local writer\'s size until its commit')
  })
})
