/**
 * Small overwrites become slices (docs/vfs.md, "Small overwrites: slices"): a commit of a few
 * small dirty ranges of a stored stripe stores only those ranges (each its own CAONT-RS stripe)
 * and appends them to the stripe's manifest entry; reads lay them over the base. At COMPACT_SLICES a
 * background compaction merges them into a new base; a large change or a truncate stores the
 * stripe whole again and drops its slices. Real
 * meta, chunk pool, store and StripeIO (4-of-6 here, so each slice is n fragments); StripeIO
 * wrapped to count the bytes each write encodes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { ROOT_INO } from '../../../src/meta/types.js'
import type { StripeIO } from '../../../src/place/types.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { COMPACT_SLICES } from '../../../src/vfs/constants.js'
import { createVfs } from '../../../src/vfs/index.js'
import { onCleanup } from '../../helpers/tmp.js'
import { createVfsStack, TEST_STRIPE_BYTES } from './stack.js'

const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const SS = TEST_STRIPE_BYTES

/** Counts the bytes each `write` encodes. */
function countingStripes (): { wrap: (s: StripeIO) => StripeIO, writes: number[] } {
  const writes: number[] = []
  const wrap = (s: StripeIO): StripeIO => ({
    write: async (data, ...rest) => { writes.push(data.length); return await s.write(data, ...rest) },
    read: async (...a) => await s.read(...a),
    health: async (...a) => await s.health(...a),
    sync: async (...a) => await s.sync(...a),
    usage: () => s.usage()
  })
  return { wrap, writes }
}

async function setup (t: Parameters<typeof createVfsStack>[0], size: number): Promise<{ stack: Awaited<ReturnType<typeof createVfsStack>>, writes: number[], ino: number, fh: number, expected: Buffer }> {
  const { wrap, writes } = countingStripes()
  const stack = await createVfsStack(t, { wrapStripes: wrap, vfs: { defaultPolicy: { k: 4, n: 6 } } })
  const c = await stack.vfs.create(ctx, ROOT_INO, 'db', 0o644, C.O_RDWR)
  const expected = randomBytes(size)
  await stack.vfs.write(ctx, c.attr.ino, c.fh, 0, expected, 0)
  await stack.vfs.fsync(ctx, c.attr.ino, c.fh, false)
  writes.length = 0
  return { stack, writes, ino: c.attr.ino, fh: c.fh, expected }
}

async function readAll (vfs: Awaited<ReturnType<typeof createVfsStack>>['vfs'], ino: number, size: number): Promise<Buffer> {
  const o = await vfs.open(ctx, ino, C.O_RDONLY)
  const back = Buffer.from(await vfs.read(ctx, ino, o.fh, 0, size))
  await vfs.release(ctx, ino, o.fh, 0)
  return back
}

describe('vfs slices', () => {
  it('stores 4 KiB overwrites + fsync as slices, reads them back byte-exact, also from a fresh VFS', async (t) => {
    const size = 3 * SS
    const { stack: { vfs, meta, stripes }, writes, ino, fh, expected } = await setup(t, size)
    // Across a stripe boundary (two slices), overlapping, at the very end, unaligned.
    const at = [100, SS - 2048, 8192, 8192 + 1000, 3 * SS - 4096, 2 * SS + 77, 100]
    for (const off of at) {
      const page = randomBytes(4096)
      await vfs.write(ctx, ino, fh, off, page, 0)
      await vfs.fsync(ctx, ino, fh, false)
      page.copy(expected, off)
      assert.ok((await readAll(vfs, ino, size)).equals(expected), `byte-exact after the write at ${off}`)
    }
    // Nothing but the written pages was encoded: no stripe was stored again.
    assert.ok(writes.every(n => n <= 4096), `encoded sizes ${writes.join(',')}`)
    assert.equal(writes.length, at.length + 1, 'one slice per page, two for the page across a boundary')
    const refs = await meta.getStripes(ino, 0, 3)
    assert.deepEqual(refs.map(r => r.slices?.length ?? 0), [5, 1, 2])
    assert.ok(refs.every(r => r.slices?.every(x => x.k === 4 && x.n === 6 && x.fragments.length === 6)), 'each slice at the file\'s k/n')
    await vfs.release(ctx, ino, fh, 0)
    // A VFS that never saw the writes (cold cache) reads the same bytes.
    const vfs2 = createVfs({ stripeSizeBytes: SS }, { meta, stripes, logger: prefixLogger('vfs-slices-2') })
    await vfs2.start()
    onCleanup(t, async () => { await vfs2.stop() })
    await vfs2.lookup(ctx, ROOT_INO, 'db')
    assert.ok((await readAll(vfs2, ino, size)).equals(expected), 'byte-exact from a cold cache')
    // Every slice fragment is referenced (GC keeps it) and stored.
    const referenced = new Set<string>()
    for await (const cid of meta.referencedFragments()) referenced.add(cid)
    for (const r of refs) for (const x of r.slices ?? []) for (const f of x.fragments) assert.ok(referenced.has(f), `slice fragment ${f} referenced`)
  })

  it('compacts a stripe at COMPACT_SLICES slices in the background; stores it whole for a large change and for a truncate into it', async (t) => {
    const size = SS + 5000
    const { stack: { vfs, meta }, writes, ino, fh, expected } = await setup(t, size)
    const [base] = await meta.getStripes(ino, 0, 1)
    for (let i = 0; i < COMPACT_SLICES; i++) {
      const page = randomBytes(512)
      await vfs.write(ctx, ino, fh, i * 4096, page, 0)
      await vfs.fsync(ctx, ino, fh, false)
      page.copy(expected, i * 4096)
    }
    assert.deepEqual(writes.slice(0, COMPACT_SLICES), new Array(COMPACT_SLICES).fill(512), 'each commit stored one slice')
    await pWaitFor(() => vfs.stats().stripesCompacted === 1, { timeout: 60_000 })
    const [s0] = await meta.getStripes(ino, 0, 1)
    assert.notEqual(s0.id, base.id, 'a new base')
    assert.equal(s0.slices, undefined, 'holding every slice')
    assert.deepEqual(writes.slice(COMPACT_SLICES), [SS], 'the compaction stored the merged stripe once')
    assert.ok((await readAll(vfs, ino, size)).equals(expected))
    // Writes after it lay slices over the new base.
    const page = randomBytes(100)
    await vfs.write(ctx, ino, fh, 50, page, 0)
    await vfs.fsync(ctx, ino, fh, false)
    page.copy(expected, 50)
    assert.equal((await meta.getStripes(ino, 0, 1))[0].slices?.length, 1)
    assert.ok((await readAll(vfs, ino, size)).equals(expected))
    // Over 256 KiB of changes: whole.
    const big = randomBytes(300 * 1024)
    await vfs.write(ctx, ino, fh, 4096, big, 0)
    await vfs.fsync(ctx, ino, fh, false)
    big.copy(expected, 4096)
    assert.equal(writes.at(-1), SS)
    // A slice over stripe 1 (the 5000-byte tail), then a truncate into it and an extension: zeros.
    await vfs.write(ctx, ino, fh, SS + 4000, Buffer.alloc(1000, 7), 0)
    await vfs.fsync(ctx, ino, fh, false)
    assert.equal((await meta.getStripes(ino, 1, 2))[0].slices?.length, 1)
    await vfs.setattr(ctx, ino, { size: SS + 3000 }, fh)
    await vfs.setattr(ctx, ino, { size: SS + 5000 }, fh)
    expected.fill(0, SS + 3000)
    assert.ok((await readAll(vfs, ino, size)).equals(expected), 'a truncate into a sliced stripe leaves zeros past the cut')
    assert.equal((await meta.getStripes(ino, 1, 2))[0].slices, undefined)
    await vfs.release(ctx, ino, fh, 0)
  })

  it('an append into the last stripe is a slice that grows the stripe', async (t) => {
    const size = SS / 2
    const { stack: { vfs, meta }, writes, ino, fh, expected } = await setup(t, size)
    const tail = randomBytes(3000)
    await vfs.write(ctx, ino, fh, size + 1000, tail, 0)
    await vfs.fsync(ctx, ino, fh, false)
    assert.deepEqual(writes, [3000])
    const all = Buffer.concat([expected, Buffer.alloc(1000), tail])
    assert.ok((await readAll(vfs, ino, all.length)).equals(all))
    await vfs.release(ctx, ino, fh, 0)
    assert.equal((await meta.getattr(ino)).size, all.length)
  })
})
