/**
 * Slices in the journal (docs/vfs.md, "Small overwrites: slices"; docs/journal.md, "Slices"): a
 * setContent appends slices to a stored stripe in a v2 op that an older PALM refuses; the slices
 * replicate, come back after undo-redo of a late op, and a conflict copy shares the slices of the
 * version it keeps. Real SQLite journals.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeOp } from '../../../src/meta/op.js'
import { ROOT_INO, type MetaStore, type SignedOp, type SliceRef, type StripeRef } from '../../../src/meta/types.js'
import { assertConverged, devices, FILE, logicalClock, send, stripe } from './merge-helpers.js'

function slice (off: number, length: number, tag: string): SliceRef {
  return { off, length, id: `sl-${tag}`, k: 1, n: 1, codecId: 1, fragments: [`cid-${tag}`], holders: [] }
}

/** Stripe 0 of `name` as "base:slice,slice…". */
async function layout (s: MetaStore, name: string): Promise<string> {
  const a = await s.lookup(ROOT_INO, name)
  assert.ok(a != null, `${name} exists`)
  const [st] = await s.getStripes(a.ino, 0, 1)
  return `${st.id}:${(st.slices ?? []).map(x => x.id).join(',')}`
}

async function ino (s: MetaStore, name: string): Promise<number> {
  return (await s.lookup(ROOT_INO, name))!.ino
}

const addSlices = (over: StripeRef, slices: SliceRef[]): { size: number, stripeSize: number, stripes: [], addSlices: Array<{ index: number, over: string, seen: number, slices: SliceRef[] }> } =>
  ({ size: 64, stripeSize: 64, stripes: [], addSlices: [{ index: 0, over: over.id, seen: over.slices?.length ?? 0, slices }] })

describe('slices in the journal', () => {
  it('appends slices in a v2 op, lists them in every walk of fragments, and replicates them', async (t) => {
    const [a, b] = await devices(t, 2)
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [stripe(0, 64, 'x')] })
    const [base] = await a.getStripes(f.ino, 0, 1)
    await a.setContent(f.ino, addSlices(base, [slice(4, 4, 'a')]))
    const [one] = await a.getStripes(f.ino, 0, 1)
    await a.setContent(f.ino, addSlices(one, [slice(0, 2, 'b'), slice(60, 4, 'c')]))
    assert.equal(await layout(a, 'f'), 'st-x:sl-a,sl-b,sl-c')
    const [st] = await a.getStripes(f.ino, 0, 1)
    assert.deepEqual(st.slices?.[2], slice(60, 4, 'c'))
    const ops: SignedOp[] = []
    for await (const o of a.exportOps()) ops.push(o)
    assert.deepEqual(ops.map(o => `${o.op.kind}/v${o.op.v}`), ['create/v1', 'setContent/v1', 'setContent/v2', 'setContent/v2'])
    // An op of format v1 that appends slices is refused (an older PALM would read the base alone).
    assert.throws(() => decodeOp(ops[2].body.replace('"v":2', '"v":1')), { name: 'ProtocolError' })
    assert.throws(() => decodeOp(ops[2].body.replace('"v":2', '"v":3')), { name: 'ProtocolError' })
    // GC, repair and fsck walk each slice as a stored stripe of its own.
    const parts = []
    for await (const p of a.allStripes()) parts.push(`${p.ino === f.ino ? 'f' : '?'}${p.stripe.index}:${p.stripe.id}/${p.stripe.length}/${String(p.stripe.slices)}`)
    assert.deepEqual(parts, ['f0:st-x/64/undefined', 'f0:sl-a/4/undefined', 'f0:sl-b/2/undefined', 'f0:sl-c/4/undefined'])
    const refs = []
    for await (const c of a.referencedFragments()) refs.push(c)
    assert.deepEqual(refs.sort(), ['cid-a', 'cid-b', 'cid-c', 'cid-x'])
    // Repair can name a slice in a holders op.
    await a.setHolders(f.ino, 0, 'sl-b', [[0, 'cid-b', ['D']]])
    assert.deepEqual((await a.getStripes(f.ino, 0, 1))[0].slices?.[1].holders, [['D']])
    await send(a, b)
    assert.equal(await layout(b, 'f'), 'st-x:sl-a,sl-b,sl-c')
    assert.deepEqual((await b.getStripes(await ino(b, 'f'), 0, 1))[0], (await a.getStripes(f.ino, 0, 1))[0])
    await assertConverged([a, b])
    // A whole-stripe write drops the slices; an undo record still names their fragments (a late op could bring them back).
    await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [stripe(0, 64, 'y')] })
    assert.equal(await layout(a, 'f'), 'st-y:')
    const held = []
    for await (const c of a.heldFragments()) held.push(c)
    for (const c of ['cid-a', 'cid-b', 'cid-c']) assert.ok(held.includes(c), `${c} kept for undo`)
  })

  it('refuses slices that do not fit the stripe or the file, or replace a stripe they also slice', async (t) => {
    const [a] = await devices(t, 1)
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [stripe(0, 64, 'x')] })
    const [base] = await a.getStripes(f.ino, 0, 1)
    await assert.rejects(a.setContent(f.ino, addSlices(base, [slice(62, 4, 'a')])), { name: 'InvalidArgumentError' })
    await assert.rejects(a.setContent(f.ino, { ...addSlices(base, [slice(0, 4, 'a')]), size: 2 }), { name: 'InvalidArgumentError' })
    await assert.rejects(a.setContent(f.ino, { ...addSlices(base, [slice(0, 4, 'a')]), stripes: [stripe(0, 64, 'y')] as never }), { name: 'InvalidArgumentError' })
    assert.equal(await layout(a, 'f'), 'st-x:')
  })

  it('compaction: a reencode op that merges the first slices keeps the later ones, moves no version, and records nothing once they changed', async (t) => {
    const [a, b] = await devices(t, 2)
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [stripe(0, 32, 'x')] })
    let [st] = await a.getStripes(f.ino, 0, 1)
    await a.setContent(f.ino, addSlices(st, [slice(0, 4, 'a'), slice(40, 8, 'b')]))
    ;[st] = await a.getStripes(f.ino, 0, 1)
    await a.setContent(f.ino, addSlices(st, [slice(8, 4, 'c')]))
    const before = await a.getattr(f.ino)
    // The compaction read the stripe with two slices (48 bytes merged); a third came meanwhile.
    const merged = { ...stripe(0, 48, 'm'), k: 1, n: 1 }
    await assert.rejects(a.reencodeStripe(f.ino, 0, 'st-x', { ...merged, length: 32 }, { merged: ['sl-a', 'sl-b'] }), { name: 'InvalidArgumentError' }, 'the merged length is 48')
    assert.equal(await a.reencodeStripe(f.ino, 0, 'st-x', merged, { merged: ['sl-b', 'sl-a'] }), false, 'not the first slices')
    assert.equal(await a.reencodeStripe(f.ino, 0, 'st-x', merged, { merged: ['sl-a', 'sl-b'] }), true)
    assert.equal(await layout(a, 'f'), 'st-m:sl-c')
    const after = await a.getattr(f.ino)
    assert.deepEqual([after.mtimeNs, after.ctimeNs, after.size], [before.mtimeNs, before.ctimeNs, before.size], 'no content change')
    const ops: SignedOp[] = []
    for await (const o of a.exportOps()) ops.push(o)
    assert.equal(`${ops.at(-1)?.op.kind}/v${ops.at(-1)?.op.v}`, 'reencode/v2')
    assert.throws(() => decodeOp((ops.at(-1) as SignedOp).body.replace('"v":2', '"v":1')), { name: 'ProtocolError' })
    await send(a, b)
    assert.equal(await layout(b, 'f'), 'st-m:sl-c')
    await assertConverged([a, b])
    // A plain re-encoding (policy change) of the base keeps every slice.
    assert.equal(await a.reencodeStripe(f.ino, 0, 'st-m', { ...stripe(0, 48, 'r'), k: 1, n: 1 }), true)
    assert.equal(await layout(a, 'f'), 'st-r:sl-c')
  })

  it('concurrent slices: the later op keeps the name with its own view, the conflict copy shares the other slices, after undo-redo too', async (t) => {
    const [a, b, c] = await devices(t, 3, logicalClock())
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [stripe(0, 64, 'x')] })
    await send(a, b)
    await send(a, c)
    const [base] = await a.getStripes(f.ino, 0, 1)
    // Concurrently, a then b (in total order) slice the same stripe.
    await a.setContent(f.ino, addSlices(base, [slice(0, 4, 'a')]))
    await b.setContent(await ino(b, 'f'), addSlices(base, [slice(8, 4, 'b')]))
    // c gets b's later op first: a's op arrives late and is applied by undo-redo.
    await send(b, c)
    assert.equal(await layout(c, 'f'), 'st-x:sl-b')
    await send(a, c)
    await send(a, b)
    await send(b, a)
    const tree = await assertConverged([a, b, c])
    const copies = tree.filter(l => l.includes('conflict'))
    assert.equal(copies.length, 1, 'one conflict copy')
    for (const s of [a, b, c]) {
      assert.equal(await layout(s, 'f'), 'st-x:sl-b', 'the later op keeps the name, over the stripe it saw')
      const copy = (await s.readdir(ROOT_INO, 0, 10)).find(e => e.name.includes('conflict'))!
      const [st] = await s.getStripes(copy.ino, 0, 1)
      assert.equal(`${st.id}:${(st.slices ?? []).map(x => x.id).join(',')}`, 'st-x:sl-a', 'the copy shares the base and the slices its version had')
    }
    const parts = new Set<string>()
    for await (const p of c.allStripes()) parts.add(p.stripe.id)
    assert.deepEqual([...parts].sort(), ['sl-a', 'sl-b', 'st-x'])
  })
})
