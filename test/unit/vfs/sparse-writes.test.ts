/**
 * Sparse writes (docs/vfs.md, "Sparse writes"): a small write into a stored stripe keeps only the
 * bytes written (patches) and fetches nothing; reads lay the patches over the stored stripe; a
 * stripe that outgrows slices is fetched and made whole; a truncate into one, and a write over all
 * of it, still give the exact bytes. Real meta, chunk pool, store and StripeIO; a second VFS over
 * the same journal and fragments starts with a cold read cache, so every fetch is counted.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { describe, it } from 'node:test'
import { ROOT_INO, type MetaStore } from '../../../src/meta/types.js'
import type { StripeIO } from '../../../src/place/types.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { SLICE_MAX_BYTES } from '../../../src/vfs/constants.js'
import { layPatch, type Patch } from '../../../src/vfs/dirty-stripe.js'
import { createVfs, type Vfs } from '../../../src/vfs/index.js'
import { onCleanup } from '../../helpers/tmp.js'
import { createVfsStack, TEST_STRIPE_BYTES } from './stack.js'

const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const SS = TEST_STRIPE_BYTES

const flat = (ps: Patch[]): Array<[number, string]> => ps.map(p => [p.off, Buffer.from(p.bytes).toString()])

describe('layPatch', () => {
  it('keeps patches sorted and disjoint, merging overlapping and touching ones, top write wins', () => {
    let ps = layPatch([], 10, Buffer.from('aaaa'))
    ps = layPatch(ps, 30, Buffer.from('cc'))
    ps = layPatch(ps, 0, Buffer.from('zz'))
    assert.deepEqual(flat(ps), [[0, 'zz'], [10, 'aaaa'], [30, 'cc']])
    // Touching at 14 and overlapping at 12: one patch.
    ps = layPatch(ps, 12, Buffer.from('BBBB'))
    assert.deepEqual(flat(ps), [[0, 'zz'], [10, 'aaBBBB'], [30, 'cc']])
    // Spanning two patches and the gap between them.
    ps = layPatch(ps, 15, Buffer.from('x'.repeat(16)))
    assert.deepEqual(flat(ps), [[0, 'zz'], [10, 'aaBBB' + 'x'.repeat(16) + 'c']])
  })

  it('never writes into the arrays it was given, and copies the new bytes', () => {
    const first = layPatch([], 0, Buffer.from('hello'))
    const held = first[0].bytes
    const src = Buffer.from('J')
    const next = layPatch(first, 0, src)
    src.fill(0x21)
    assert.equal(Buffer.from(held).toString(), 'hello', 'a store in flight may hold the old patch')
    assert.deepEqual(flat(next), [[0, 'Jello']])
    const apart = layPatch(next, 100, src)
    assert.equal(apart[0], next[0], 'an untouched patch is shared')
  })
})

describe('vfs sparse writes', () => {
  /** A file of `size` random bytes stored and committed, and a second VFS (cold cache) open on it. */
  async function setup (t: Parameters<typeof createVfsStack>[0], size: number): Promise<{ vfs: Vfs, meta: MetaStore, ino: number, fh: number, expected: Buffer, reads: () => number, writes: number[] }> {
    let reads = 0
    const writes: number[] = []
    const wrap = (s: StripeIO): StripeIO => ({
      write: async (data, ...rest) => { writes.push(data.length); return await s.write(data, ...rest) },
      read: async (...a) => { reads++; return await s.read(...a) },
      health: async (...a) => await s.health(...a),
      sync: async (...a) => await s.sync(...a),
      usage: () => s.usage()
    })
    const { vfs: first, meta, stripes } = await createVfsStack(t, { wrapStripes: wrap })
    const c = await first.create(ctx, ROOT_INO, 'f', 0o644, C.O_RDWR)
    const expected = randomBytes(size)
    await first.write(ctx, c.attr.ino, c.fh, 0, expected, 0)
    await first.release(ctx, c.attr.ino, c.fh, 0)
    const vfs = createVfs({ stripeSizeBytes: SS }, { meta, stripes, logger: prefixLogger('vfs-sparse') })
    await vfs.start()
    onCleanup(t, async () => { await vfs.stop() })
    await vfs.lookup(ctx, ROOT_INO, 'f')
    const o = await vfs.open(ctx, c.attr.ino, C.O_RDWR)
    reads = 0
    writes.length = 0
    return { vfs, meta, ino: c.attr.ino, fh: o.fh, expected, reads: () => reads, writes }
  }

  const readAll = async (vfs: Vfs, ino: number, fh: number, size: number): Promise<Buffer> => Buffer.from(await vfs.read(ctx, ino, fh, 0, size))

  it('stores small writes into a stored stripe without fetching it; reads see them before and after the commit', async (t) => {
    const size = 2 * SS + 1000
    const { vfs, ino, fh, expected, reads, writes } = await setup(t, size)
    // The last one runs past the end of the file: it grows the last stripe.
    const at = [SS + 100, SS + 100 + 4096, SS + 50, 2 * SS + 900]
    const want = Buffer.alloc(2 * SS + 900 + 4096)
    want.set(expected)
    for (const off of at) {
      const page = randomBytes(4096)
      await vfs.write(ctx, ino, fh, off, page, 0)
      page.copy(want, off)
    }
    assert.equal(reads(), 0, 'no stripe was fetched to take the writes')
    assert.ok((await readAll(vfs, ino, fh, want.length)).equals(want), 'byte-exact while dirty: patches laid over the stored stripes')
    await vfs.fsync(ctx, ino, fh, false)
    assert.ok(writes.every(n => n <= 8192 + 50), `only the patches were encoded: ${writes.join(',')}`)
    assert.ok((await readAll(vfs, ino, fh, want.length)).equals(want), 'byte-exact after the commit')
    await vfs.release(ctx, ino, fh, 0)
  })

  it('stores a rewrite of all a stripe holds (a small file saved again) as a new stripe, not a slice', async (t) => {
    const { vfs, meta, ino, fh, reads, writes } = await setup(t, 4096)
    const again = randomBytes(5000)
    await vfs.write(ctx, ino, fh, 0, again, 0)
    await vfs.fsync(ctx, ino, fh, false)
    assert.equal(reads(), 0)
    assert.deepEqual(writes, [5000], 'stored whole')
    assert.equal((await meta.getStripes(ino, 0, 1))[0].slices, undefined, 'no slice')
    assert.ok(Buffer.from(await vfs.read(ctx, ino, fh, 0, 5000)).equals(again))
    await vfs.release(ctx, ino, fh, 0)
  })

  it('makes a stripe whole when its writes outgrow slices, and for a truncate into it; a write over all of it fetches nothing', async (t) => {
    const size = 2 * SS
    const { vfs, ino, fh, expected, reads, writes } = await setup(t, size)
    // Many small writes into stripe 0, apart: past SLICE_MAX_BYTES it is fetched and made whole.
    const page = 8192
    const count = Math.ceil(SLICE_MAX_BYTES / page) + 2
    for (let i = 0; i < count; i++) {
      const data = randomBytes(page)
      await vfs.write(ctx, ino, fh, i * 2 * page, data, 0)
      data.copy(expected, i * 2 * page)
    }
    assert.equal(reads(), 1, 'fetched once, to be made whole')
    assert.ok((await readAll(vfs, ino, fh, size)).equals(expected), 'byte-exact while dirty')
    await vfs.fsync(ctx, ino, fh, false)
    assert.deepEqual(writes, [SS], 'stored whole')
    assert.ok((await readAll(vfs, ino, fh, size)).equals(expected), 'byte-exact after the commit')
    // A small write into stripe 1, then a truncate into that stripe: zeros past the cut.
    await vfs.write(ctx, ino, fh, SS + 10, Buffer.from('tail'), 0)
    Buffer.from('tail').copy(expected, SS + 10)
    await vfs.setattr(ctx, ino, { size: SS + 12 }, fh)
    await vfs.setattr(ctx, ino, { size }, fh)
    expected.fill(0, SS + 12)
    assert.ok((await readAll(vfs, ino, fh, size)).equals(expected), 'a truncate into a sparse stripe')
    // A small write, then one over the whole stripe: nothing fetched for it.
    await vfs.write(ctx, ino, fh, 100, Buffer.from('x'), 0)
    const fetched = reads()
    const all = randomBytes(SS)
    await vfs.write(ctx, ino, fh, 0, all, 0)
    all.copy(expected, 0)
    assert.equal(reads(), fetched, 'a write over the whole stripe needs none of its bytes')
    await vfs.fsync(ctx, ino, fh, false)
    assert.ok((await readAll(vfs, ino, fh, size)).equals(expected))
    await vfs.release(ctx, ino, fh, 0)
  })
})
