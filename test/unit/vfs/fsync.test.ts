/**
 * fsync flushes the fragments of every stripe of the file that may not be stable, and only those
 * (src/vfs/unsynced.ts): the stripes its own commit stores are flushed as they are stored (a write
 * with `sync`); of the others, a file created here flushes what was stored since its last fsync; a
 * file this VFS did not see written (another VFS instance, a restart) walks its manifest once; a
 * failed flush is tried again by the next fsync; an fsync waits for a flush of its file already
 * running. And a write right after a commit merges into the stripe that commit recorded without
 * asking the journal. Real meta, chunk pool, store and StripeIO; the StripeIO is wrapped to record
 * what `sync` gets and which writes flush, and meta to count manifest queries.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { constants as C } from 'node:fs'
import { describe, it, type TestContext } from 'node:test'
import { ROOT_INO } from '../../../src/meta/types.js'
import type { PlacedStripe, StripeIO } from '../../../src/place/types.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { createVfs } from '../../../src/vfs/index.js'
import { onCleanup } from '../../helpers/tmp.js'
import { createVfsStack, TEST_STRIPE_BYTES } from './stack.js'

const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const SS = TEST_STRIPE_BYTES

/**
 * Records the stripe ids each `sync` call gets (`calls`) and those of writes that flush (`flushedWrites`);
 * `synced` is both. `gate` (when set) holds or fails the next `sync` calls; `gate.here` makes it a
 * StripeIO whose fragments stay on this device (fsync then stores first and flushes after).
 */
function recordingStripes (): { wrap: (s: StripeIO) => StripeIO, calls: string[][], flushedWrites: string[], synced: Set<string>, gate: { hold?: Promise<void>, fail?: number, here?: boolean } } {
  const calls: string[][] = []
  const flushedWrites: string[] = []
  const synced = new Set<string>()
  const gate: { hold?: Promise<void>, fail?: number, here?: boolean } = {}
  const wrap = (s: StripeIO): StripeIO => ({
    flushWithStore: () => gate.here !== true,
    write: async (...a) => {
      const placed = await s.write(...a)
      if (a[2]?.sync === true) { flushedWrites.push(placed.id); synced.add(placed.id) }
      return placed
    },
    read: async (...a) => await s.read(...a),
    health: async (...a) => await s.health(...a),
    usage: () => s.usage(),
    sync: async (stripes: PlacedStripe[], options?: Parameters<StripeIO['sync']>[1]) => {
      calls.push(stripes.map(x => x.id))
      if (gate.hold != null) await gate.hold
      if ((gate.fail ?? 0) > 0) { gate.fail = (gate.fail ?? 0) - 1; throw new Error('disk said no') }
      await s.sync(stripes, options)
      for (const x of stripes) synced.add(x.id)
    }
  })
  return { wrap, calls, flushedWrites, synced, gate }
}

async function manifestIds (meta: { getStripes: (ino: number, from: number, to: number) => Promise<Array<{ id: string }>> }, ino: number): Promise<string[]> {
  return (await meta.getStripes(ino, 0, 1024)).map(s => s.id).sort()
}

/** A VFS whose stripes record flushes, and a file `name` created in it, open read-write. */
async function recordedFile (t: TestContext, name: string): Promise<{ rec: ReturnType<typeof recordingStripes>, stack: Awaited<ReturnType<typeof createVfsStack>>, fh: number, ino: number }> {
  const rec = recordingStripes()
  const stack = await createVfsStack(t, { wrapStripes: rec.wrap })
  const c = await stack.vfs.create(ctx, ROOT_INO, name, 0o644, C.O_RDWR)
  return { rec, stack, fh: c.fh, ino: c.attr.ino }
}

describe('vfs fsync', () => {
  it('flushes only the stripes stored since the last fsync of a file created here', async (t) => {
    const { rec, stack: { vfs, meta }, fh, ino } = await recordedFile(t, 'db')
    await vfs.write(ctx, ino, fh, 0, randomBytes(3 * SS), 0)
    await vfs.fsync(ctx, ino, fh, false)
    const all = await manifestIds(meta, ino)
    assert.equal(all.length, 3)
    // Each stripe flushed once: stored early (then flushed by the fsync), or stored by its commit, flushing.
    assert.deepEqual([...rec.calls.flat(), ...rec.flushedWrites].sort(), all)
    // A small overwrite of stripe 1 (a slice over it): the fsync's commit stores the slice,
    // flushing it as it goes, and flushes nothing else of the file.
    rec.calls.length = 0
    rec.flushedWrites.length = 0
    await vfs.write(ctx, ino, fh, SS + 100, randomBytes(4096), 0)
    await vfs.fsync(ctx, ino, fh, false)
    const [stripe1] = await meta.getStripes(ino, 1, 2)
    assert.equal(stripe1.slices?.length, 1)
    assert.deepEqual(rec.flushedWrites, [stripe1.slices[0].id])
    assert.deepEqual(rec.calls, [])
    // Fragments that stay on this device: stored, then flushed alongside the journal.
    rec.gate.here = true
    rec.flushedWrites.length = 0
    await vfs.write(ctx, ino, fh, SS + 9000, randomBytes(10), 0)
    await vfs.fsync(ctx, ino, fh, false)
    const [again] = await meta.getStripes(ino, 1, 2)
    assert.deepEqual(rec.flushedWrites, [])
    assert.deepEqual(rec.calls, [[again.slices?.[1].id]])
    rec.gate.here = false
    rec.calls.length = 0
    // Closed without fsync, then fsynced: the close's slice is flushed by the fsync.
    await vfs.write(ctx, ino, fh, 2 * SS + 7, randomBytes(100), 0)
    await vfs.flush(ctx, ino, fh, 0n)
    rec.flushedWrites.length = 0
    await vfs.fsync(ctx, ino, fh, false)
    const [stripe2] = await meta.getStripes(ino, 2, 3)
    assert.deepEqual(rec.calls, [[stripe2.slices?.[0].id]])
    assert.deepEqual(rec.flushedWrites, [])
    // Nothing written since: nothing to flush (the journal is still synced).
    rec.calls.length = 0
    await vfs.fsync(ctx, ino, fh, false)
    assert.deepEqual(rec.calls, [])
    assert.deepEqual(rec.flushedWrites, [])
    for (const id of await manifestIds(meta, ino)) assert.ok(rec.synced.has(id), `stripe ${id} synced`)
    assert.ok(rec.synced.has(stripe1.slices[0].id), 'the slice synced')
    await vfs.release(ctx, ino, fh, 0)
  })

  it('walks the manifest of a file written before this VFS started, then tracks it', async (t) => {
    const { rec, stack: { vfs, meta, stripes }, fh, ino } = await recordedFile(t, 'old')
    await vfs.write(ctx, ino, fh, 0, randomBytes(2 * SS + 10), 0)
    await vfs.release(ctx, ino, fh, 0) // closed, never fsynced
    assert.deepEqual(rec.calls, [])
    // A second VFS on the same journal and stripes: it knows nothing of the file's past.
    const vfs2 = createVfs({ stripeSizeBytes: SS }, { meta, stripes, logger: prefixLogger('vfs-test-2') })
    await vfs2.start()
    onCleanup(t, async () => { await vfs2.stop() })
    await vfs2.lookup(ctx, ROOT_INO, 'old')
    const o = await vfs2.open(ctx, ino, C.O_RDWR)
    await vfs2.fsync(ctx, ino, o.fh, false)
    assert.deepEqual([...rec.synced].sort(), await manifestIds(meta, ino))
    rec.calls.length = 0
    await vfs2.write(ctx, ino, o.fh, 5, Buffer.from('x'), 0)
    await vfs2.fsync(ctx, ino, o.fh, false)
    const [stripe0] = await meta.getStripes(ino, 0, 1)
    assert.equal(stripe0.slices?.length, 1)
    assert.deepEqual(rec.flushedWrites, [stripe0.slices[0].id])
    assert.deepEqual(rec.calls, [])
    await vfs2.release(ctx, ino, o.fh, 0)
  })

  it('flushes again the stripes of a failed flush', async (t) => {
    const { rec, stack: { vfs, meta }, fh, ino } = await recordedFile(t, 'f')
    await vfs.write(ctx, ino, fh, 0, randomBytes(2 * SS), 0)
    await vfs.flush(ctx, ino, fh, 0n) // stored by a close: the fsync must flush them
    rec.gate.fail = 1
    await assert.rejects(vfs.fsync(ctx, ino, fh, false), /disk said no/)
    assert.equal(rec.synced.size, 0)
    await vfs.fsync(ctx, ino, fh, false)
    assert.deepEqual([...rec.synced].sort(), await manifestIds(meta, ino))
    await vfs.release(ctx, ino, fh, 0)
  })

  it('waits for a flush of its file that another fsync started', async (t) => {
    const { rec, stack: { vfs }, fh, ino } = await recordedFile(t, 'f')
    await vfs.write(ctx, ino, fh, 0, randomBytes(SS), 0)
    await vfs.flush(ctx, ino, fh, 0n) // stored by a close: the fsync must flush it
    let open!: () => void
    rec.gate.hold = new Promise(resolve => { open = resolve })
    const first = vfs.fsync(ctx, ino, fh, false)
    const until = Date.now() + 60_000
    while (rec.calls.length === 0 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 5))
    assert.equal(rec.calls.length, 1, 'the first fsync flushes')
    // The second fsync has nothing new to flush, but the first one's stripe is not stable yet.
    let secondDone = false
    const second = vfs.fsync(ctx, ino, fh, false).then(() => { secondDone = true })
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    assert.equal(secondDone, false, 'the second fsync returned before the first one\'s flush ended')
    open()
    await Promise.all([first, second])
    assert.equal(rec.calls.length, 1)
    await vfs.release(ctx, ino, fh, 0)
  })

  it('merges a write right after a commit into the stripe that commit recorded, without listing stripes', async (t) => {
    const { meta, stripes } = await createVfsStack(t)
    let listed = 0
    // Counts manifest queries (each waits for the journal's SQLite commit of the inode).
    const counted = new Proxy(meta, {
      get: (target, key) => {
        const v = Reflect.get(target, key) as unknown
        if (typeof v !== 'function') return v
        return (...args: unknown[]) => { if (key === 'getStripes') listed++; return (v as (...a: unknown[]) => unknown).apply(target, args) }
      }
    })
    const vfs = createVfs({ stripeSizeBytes: SS }, { meta: counted, stripes, logger: prefixLogger('vfs-test-counted') })
    await vfs.start()
    onCleanup(t, async () => { await vfs.stop() })
    const c = await vfs.create(ctx, ROOT_INO, 'db', 0o644, C.O_RDWR)
    const ino = c.attr.ino
    const expected = randomBytes(2 * SS)
    await vfs.write(ctx, ino, c.fh, 0, expected, 0)
    await vfs.fsync(ctx, ino, c.fh, false)
    listed = 0
    for (const at of [SS + 4096, 100, SS + 8192]) {
      const page = randomBytes(4096)
      await vfs.write(ctx, ino, c.fh, at, page, 0)
      await vfs.fsync(ctx, ino, c.fh, false)
      page.copy(expected, at)
    }
    // A read right after the fsync of what it reads: known too.
    const back = await vfs.read(ctx, ino, c.fh, SS + 8192, 4096)
    assert.ok(Buffer.from(back).equals(expected.subarray(SS + 8192, SS + 8192 + 4096)))
    // Stripe 1 right after the commit that wrote it: known. Then stripe 0 and stripe 1 again, each
    // last written one commit before: asked (only the last commit's refs are kept).
    assert.equal(listed, 2)
    // A change of the inode since the commit (chmod moves ctime): the write asks the journal again.
    await vfs.setattr(ctx, ino, { mode: 0o600 }, c.fh)
    listed = 0
    const page = randomBytes(10)
    await vfs.write(ctx, ino, c.fh, SS + 8192 + 5, page, 0)
    page.copy(expected, SS + 8192 + 5)
    assert.equal(listed, 1)
    await vfs.release(ctx, ino, c.fh, 0)
    const r = await vfs.open(ctx, ino, C.O_RDONLY)
    assert.ok(Buffer.from(await vfs.read(ctx, ino, r.fh, 0, 2 * SS)).equals(expected))
    await vfs.release(ctx, ino, r.fh, 0)
  })
})
