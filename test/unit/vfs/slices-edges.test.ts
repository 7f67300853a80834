/**
 * Edge cases of slices (docs/vfs.md, "Small overwrites: slices") found in review: stripes that
 * share content (stripe ids are convergent: equal bytes, equal id), truncates and extensions over
 * sliced stripes, punch holes. Real meta, chunk pool, store and StripeIO (test/unit/vfs/stack.ts).
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
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { openTwoDevices } from '../../helpers/two-devices.js'
import { createVfsStack, TEST_STRIPE_BYTES } from './stack.js'

const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const SS = TEST_STRIPE_BYTES

type Stack = Awaited<ReturnType<typeof createVfsStack>>

async function readAll (vfs: Stack['vfs'], ino: number, size: number): Promise<Buffer> {
  const o = await vfs.open(ctx, ino, C.O_RDONLY)
  try {
    return Buffer.from(await vfs.read(ctx, ino, o.fh, 0, size))
  } finally {
    await vfs.release(ctx, ino, o.fh, 0)
  }
}

/** A second VFS over the same journal and store (a cold read cache), with `name` looked up. */
async function coldVfs (t: Parameters<typeof onCleanup>[0], stack: Pick<Stack, 'meta' | 'stripes'>, name: string): Promise<Stack['vfs']> {
  const cold = createVfs({ stripeSizeBytes: SS }, { meta: stack.meta, stripes: stack.stripes, logger: prefixLogger('vfs-slices-edges-cold') })
  await cold.start()
  onCleanup(t, async () => { await cold.stop() })
  await cold.lookup(ctx, ROOT_INO, name)
  return cold
}

/** Writes `data` at `off` through handle `fh` and fsyncs (one commit). */
async function put (vfs: Stack['vfs'], ino: number, fh: number, off: number, data: Uint8Array): Promise<void> {
  await vfs.write(ctx, ino, fh, off, data, 0)
  await vfs.fsync(ctx, ino, fh, false)
}

describe('vfs slices: edge cases', () => {
  it('two stripes with equal bases and equal slices at different offsets read each its own bytes', async (t) => {
    const { vfs, meta, stripes } = await createVfsStack(t)
    const c = await vfs.create(ctx, ROOT_INO, 'image', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    // Two stripes of equal bytes (a zero-filled image, a copied block): one stripe id.
    const block = randomBytes(SS)
    const expected = Buffer.concat([block, block])
    await put(vfs, ino, c.fh, 0, expected)
    const [s0, s1] = await meta.getStripes(ino, 0, 2)
    assert.equal(s0.id, s1.id, 'equal bytes, equal stripe id')
    // The same page at two offsets: two slices of one id, laid at different places.
    const page = randomBytes(4096)
    await put(vfs, ino, c.fh, 0, page)
    page.copy(expected, 0)
    await put(vfs, ino, c.fh, SS + 8192, page)
    page.copy(expected, SS + 8192)
    const refs = await meta.getStripes(ino, 0, 2)
    assert.deepEqual(refs.map(r => r.slices?.map(x => x.off)), [[0], [8192]])
    // A large change of stripe 0 merges over its current bytes and stores it whole: they must be its own.
    const big = randomBytes(300 * 1024)
    await put(vfs, ino, c.fh, SS / 2, big)
    big.copy(expected, SS / 2)
    assert.equal((await meta.getStripes(ino, 0, 1))[0].slices, undefined, 'stored whole')
    assert.ok((await readAll(vfs, ino, 2 * SS)).equals(expected), 'each stripe reads its own bytes')
    await vfs.release(ctx, ino, c.fh, 0)
    // A VFS with a cold cache reads what was stored.
    const cold = await coldVfs(t, { meta, stripes }, 'image')
    assert.ok((await readAll(cold, ino, 2 * SS)).equals(expected), 'the stored bytes are each stripe\'s own')
  })

  it('a slice written over a stripe another device sliced meanwhile keeps that device\'s slice (it saw it: no conflict copy)', async (t) => {
    const dir = await createTempDir(t, 'palm-slices-edges-')
    const { a, b, ship, close } = await openTwoDevices({ dir, vfs: { stripeSizeBytes: SS } })
    onCleanup(t, close)
    const expected = randomBytes(SS)
    await a.target.writeFile('/f', expected)
    await ship()
    const fa = await a.vfs.lookup(ctx, ROOT_INO, 'f')
    const ha = await a.vfs.open(ctx, fa.ino, C.O_RDWR)
    onCleanup(t, async () => { await a.vfs.release(ctx, fa.ino, ha.fh, 0).catch(() => {}) })
    const fb = await b.vfs.lookup(ctx, ROOT_INO, 'f')
    const hb = await b.vfs.open(ctx, fb.ino, C.O_RDWR)
    onCleanup(t, async () => { await b.vfs.release(ctx, fb.ino, hb.fh, 0).catch(() => {}) })
    // B starts a write (its stripe loaded, not yet committed); A's slice reaches B meanwhile.
    const pb = randomBytes(4096)
    await b.vfs.write(ctx, fb.ino, hb.fh, 100, pb, 0)
    const pa = randomBytes(4096)
    await put(a.vfs, fa.ino, ha.fh, 8192, pa)
    await ship()
    assert.equal((await b.meta.getStripes(fb.ino, 0, 1))[0].slices?.length, 1, 'A\'s slice reached B')
    // B commits after it applied A's op: its base is A's version, so no conflict copy is made.
    await b.vfs.fsync(ctx, fb.ino, hb.fh, false)
    pa.copy(expected, 8192)
    pb.copy(expected, 100)
    const names = (await b.meta.readdir(ROOT_INO, 0, 10)).map(e => e.name)
    assert.deepEqual(names.filter(n => n.includes('conflict')), [], 'no conflict copy')
    assert.ok((await readAll(b.vfs, fb.ino, SS)).equals(expected), 'A\'s page and B\'s page both under the name')
  })

  it('a slice written over a stripe another device truncated away meanwhile is not lost', async (t) => {
    const dir = await createTempDir(t, 'palm-slices-edges-')
    const { a, b, ship, close } = await openTwoDevices({ dir, vfs: { stripeSizeBytes: SS } })
    onCleanup(t, close)
    const before = randomBytes(2 * SS)
    await a.target.writeFile('/f', before)
    await ship()
    const fb = await b.vfs.lookup(ctx, ROOT_INO, 'f')
    const hb = await b.vfs.open(ctx, fb.ino, C.O_RDWR)
    onCleanup(t, async () => { await b.vfs.release(ctx, fb.ino, hb.fh, 0).catch(() => {}) })
    // B commits a slice of stripe 1 and buffers another; A, not having seen it, truncates stripe 1 away.
    const p1 = randomBytes(4096)
    const p2 = randomBytes(4096)
    await put(b.vfs, fb.ino, hb.fh, SS + 100, p1)
    await b.vfs.write(ctx, fb.ino, hb.fh, SS + 50_000, p2, 0)
    await a.target.truncate('/f', SS)
    await ship()
    assert.equal((await b.meta.getStripes(fb.ino, 1, 2)).length, 0, 'A\'s truncate reached B')
    // B's fsync returns: its page must be in the file, whatever became of A's truncate.
    await b.vfs.fsync(ctx, fb.ino, hb.fh, false)
    const got = await readAll(b.vfs, fb.ino, 2 * SS)
    assert.ok(got.subarray(SS + 50_000, SS + 50_000 + 4096).equals(p2), 'B\'s page is kept')
    // B's earlier page, which A did not see, is in B's version: under the name or in the conflict copy.
    const copy = (await b.meta.readdir(ROOT_INO, 0, 10)).find(e => e.name.includes('conflict'))
    assert.ok(copy != null, 'a conflict copy of the version A did not see')
    await b.vfs.lookup(ctx, ROOT_INO, copy.name)
    assert.ok((await readAll(b.vfs, copy.ino, 2 * SS)).subarray(SS + 100, SS + 100 + 4096).equals(p1), 'the copy holds B\'s earlier page')
  })

  it('an append slice, a truncate below the base and an extension read zeros past the cut, open and after close; punch holes over slices read zeros', async (t) => {
    const { vfs, meta, stripes } = await createVfsStack(t, { vfs: { defaultPolicy: { k: 4, n: 6 } } })
    const c = await vfs.create(ctx, ROOT_INO, 'f', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    const base = SS + 5000
    const model = Buffer.alloc(4 * SS)
    let size = base
    const write = async (off: number, data: Buffer, commit = true): Promise<void> => {
      await vfs.write(ctx, ino, c.fh, off, data, 0)
      if (commit) await vfs.fsync(ctx, ino, c.fh, false)
      data.copy(model, off)
      size = Math.max(size, off + data.length)
    }
    const truncate = async (to: number): Promise<void> => {
      await vfs.setattr(ctx, ino, { size: to }, c.fh)
      if (to < size) model.fill(0, to)
      size = to
    }
    const check = async (what: string, v = vfs): Promise<void> => {
      assert.equal((await v.getattr(ctx, ino, undefined)).size, size, `${what}: size`)
      assert.ok((await readAll(v, ino, 4 * SS)).equals(model.subarray(0, size)), `${what}: bytes`)
    }
    await write(0, randomBytes(base))
    // Stripe 1's base holds 5000 bytes; a slice past it grows the stripe (gap of zeros).
    await write(SS + 8000, randomBytes(3000))
    assert.equal((await meta.getStripes(ino, 1, 2))[0].slices?.length, 1)
    await check('append slice')
    // Cut below the base, extend past the old slice: zeros, in the open file.
    await truncate(SS + 2000)
    await truncate(SS + 20_000)
    await check('cut and extended')
    // A slice into the extension, uncommitted, then a cut through it and an extension again.
    await write(SS + 15_000, randomBytes(1000), false)
    await truncate(SS + 15_500)
    await truncate(SS + 30_000)
    await check('cut through an uncommitted write')
    // Across a stripe boundary, then a cut at the boundary and an extension.
    await write(SS + 29_000, randomBytes(2000))
    await write(SS - 100, randomBytes(300))
    await truncate(SS)
    await truncate(2 * SS + 10)
    await check('cut at the boundary')
    // Punch a whole stripe that has slices, and a range inside another.
    await write(2 * SS + 10, randomBytes(SS + 100))
    await write(2 * SS + 4096, randomBytes(4096))
    await write(100, randomBytes(4096))
    await vfs.fallocate(ctx, ino, c.fh, 3, 2 * SS, SS)
    model.fill(0, 2 * SS, 3 * SS)
    await vfs.fallocate(ctx, ino, c.fh, 3, 50, 1000)
    model.fill(0, 50, 1050)
    await vfs.fsync(ctx, ino, c.fh, false)
    await check('punched')
    await vfs.release(ctx, ino, c.fh, 0)
    await check('after close')
    const cold = await coldVfs(t, { meta, stripes }, 'f')
    await check('cold cache', cold)
  })

  it('a slice committed while its stripe is compacted stays over the new base, whichever is recorded first', async (t) => {
    // The compaction's store (a whole stripe) waits at a gate the test opens.
    const gate: { armed: boolean, open?: () => void } = { armed: false }
    const wrap = (io: StripeIO): StripeIO => ({
      write: async (data, ...rest) => {
        if (data.length === SS && gate.armed) {
          gate.armed = false
          await new Promise<void>((resolve) => { gate.open = resolve })
        }
        return await io.write(data, ...rest)
      },
      read: async (...a) => await io.read(...a),
      health: async (...a) => await io.health(...a),
      sync: async (...a) => await io.sync(...a),
      usage: () => io.usage()
    })
    /** Lets the held compaction go on; true when one was held. */
    const openGate = (): boolean => { const open = gate.open; delete gate.open; open?.(); return open != null }
    const { vfs, meta, stripes } = await createVfsStack(t, { wrapStripes: wrap })
    const c = await vfs.create(ctx, ROOT_INO, 'db', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    const expected = randomBytes(2 * SS)
    await put(vfs, ino, c.fh, 0, expected)
    gate.armed = true
    const page = async (off: number, commit = true): Promise<void> => {
      const p = randomBytes(512)
      await vfs.write(ctx, ino, c.fh, off, p, 0)
      if (commit) await vfs.fsync(ctx, ino, c.fh, false)
      p.copy(expected, off)
    }
    const check = async (what: string): Promise<void> => {
      assert.ok((await readAll(vfs, ino, 2 * SS)).equals(expected), what)
    }
    // Stripe 0: COMPACT_SLICES slices queue a compaction, held at the gate; one more is recorded before it.
    for (let i = 0; i < COMPACT_SLICES; i++) await page(i * 4096)
    await pWaitFor(() => gate.open !== undefined, { timeout: 60_000 })
    await page(600_000)
    assert.ok(openGate())
    await pWaitFor(() => vfs.stats().stripesCompacted === 1, { timeout: 60_000 })
    let [s0] = await meta.getStripes(ino, 0, 1)
    assert.deepEqual(s0.slices?.map(x => x.off), [600_000], 'the later slice stays over the new base')
    await check('compaction recorded after the slice')
    // Stripe 1: a write loaded before the compaction, committed after it is recorded.
    gate.armed = true
    for (let i = 0; i < COMPACT_SLICES; i++) await page(SS + i * 4096)
    await pWaitFor(() => gate.open !== undefined, { timeout: 60_000 })
    await page(SS + 700_000, false)
    assert.ok(openGate())
    await pWaitFor(() => vfs.stats().stripesCompacted === 2, { timeout: 60_000 })
    await vfs.fsync(ctx, ino, c.fh, false)
    ;[s0] = await meta.getStripes(ino, 1, 2)
    assert.deepEqual(s0.slices?.map(x => x.off), [700_000], 'the slice is laid over the new base')
    await check('compaction recorded before the slice')
    await vfs.release(ctx, ino, c.fh, 0)
    const cold = await coldVfs(t, { meta, stripes }, 'db')
    assert.ok((await readAll(cold, ino, 2 * SS)).equals(expected), 'a cold cache reads the same')
  })
})
