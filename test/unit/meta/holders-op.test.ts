/**
 * The `holders` op (repair, docs/repair.md): new holders of a stripe's fragments, replicated like
 * any op. It must not conflict with a concurrent write (no conflict copy, the write's content wins
 * in either order), be skipped when its stripe was rewritten meanwhile, leave out entries whose CID
 * is not the stripe's, apply the same on every device, and refuse malformed input.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { ROOT_INO, type MetaStore, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import { dumpTree } from '../../compliance/meta-store-tests.js'
import { trustingJournals, sendOps } from '../../helpers/journals.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }

function stripe (tag: string): StripeRef {
  return { index: 0, length: 8, id: `st-${tag}`, k: 2, n: 3, codecId: 1, fragments: [`${tag}-0`, `${tag}-1`, `${tag}-2`], holders: [['A'], ['B'], ['C']] }
}

const devices = async (t: TestContext, count: number): Promise<MetaStore[]> => await trustingJournals(t, count, 'palm-holders-')
const send = sendOps

async function holdersOf (s: MetaStore, name: string): Promise<string[][]> {
  const a = await s.lookup(ROOT_INO, name)
  assert.ok(a != null, `${name} exists`)
  return (await s.getStripes(a.ino, 0, 1))[0].holders
}

async function opKinds (s: MetaStore): Promise<string[]> {
  const out = []
  for await (const op of s.exportOps()) out.push(op.op.kind)
  return out
}

describe('the holders op', () => {
  it('records new holders without touching the file version, and replicates', async (t) => {
    const [a, b] = await devices(t, 2)
    const f = await a.create(ROOT_INO, 'f', FILE)
    const before = await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
    await send(a, b)
    await a.setHolders(f.ino, 0, 'st-x', [[1, 'x-1', ['D']], [2, 'x-2', ['E']]])
    const after = await a.getattr(f.ino)
    assert.equal(after.ctimeNs, before.ctimeNs, 'ctime unchanged: not a content change')
    assert.deepEqual(await holdersOf(a, 'f'), [['A'], ['D'], ['E']])
    assert.equal((await opKinds(a)).at(-1), 'holders')
    await send(a, b)
    assert.deepEqual(await holdersOf(b, 'f'), [['A'], ['D'], ['E']])
    // Nothing changes: nothing is logged.
    const ops = a.stats().ops
    await a.setHolders(f.ino, 0, 'st-x', [[1, 'x-1', ['D']]])
    assert.equal(a.stats().ops, ops)
  })

  it('never conflicts with a concurrent write: the write wins in either order, no conflict copy', async (t) => {
    const [a, b] = await devices(t, 2)
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
    await send(a, b)
    const fb = (await b.lookup(ROOT_INO, 'f'))!
    // Concurrently: a repairs stripe x, b rewrites the file (stripe y).
    await a.setHolders(f.ino, 0, 'st-x', [[0, 'x-0', ['D']]])
    await b.setContent(fb.ino, { size: 8, stripeSize: 8, stripes: [stripe('y')] })
    await send(a, b)
    await send(b, a)
    for (const s of [a, b]) {
      const tree = await dumpTree(s)
      assert.equal(tree.filter(l => l.includes('conflict')).length, 0, 'no conflict copy')
      const st = (await s.getStripes((await s.lookup(ROOT_INO, 'f'))!.ino, 0, 1))[0]
      assert.equal(st.id, 'st-y')
      assert.deepEqual(st.holders, [['A'], ['B'], ['C']], 'the repair of the old stripe was skipped')
    }
    assert.deepEqual(await dumpTree(a), await dumpTree(b))
  })

  it('applies only entries whose CID matches, and a repair of a rewritten stripe logs nothing', async (t) => {
    const [a] = await devices(t, 1)
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
    await a.setHolders(f.ino, 0, 'st-x', [[0, 'other-cid', ['D']], [2, 'x-2', ['E', 'F']]])
    assert.deepEqual(await holdersOf(a, 'f'), [['A'], ['B'], ['E', 'F']])
    await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('z')] })
    const ops = a.stats().ops
    await a.setHolders(f.ino, 0, 'st-x', [[0, 'x-0', ['D']]])
    assert.equal(a.stats().ops, ops)
  })

  it('refuses malformed holder lists', async (t) => {
    const [a] = await devices(t, 1)
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
    await assert.rejects(a.setHolders(f.ino, 0, 'st-x', []), { name: 'InvalidArgumentError' })
    await assert.rejects(a.setHolders(f.ino, 0, 'st-x', [[0, 'x-0', []]]), { name: 'InvalidArgumentError' })
    await assert.rejects(a.setHolders(f.ino, 0, 'st-x', [[0, 'x-0', ['D']], [0, 'x-0', ['E']]]), { name: 'InvalidArgumentError' })
  })
})
