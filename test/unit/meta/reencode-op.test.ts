/**
 * The `reencode` op (repair after a policy change, docs/repair.md): stripe X at (node, index)
 * becomes stripe Y only while X is still there. It changes no version, size or time, never makes a
 * conflict copy against a concurrent write (the write wins in either order), is skipped when X was
 * replaced, converges when two devices re-encode the same stripe at once, and is refused malformed,
 * locally and from another device.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { encodeOp, type Op } from '../../../src/meta/op.js'
import { ROOT_INO, type MetaStore, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import { dumpTree, testSigner } from '../../compliance/meta-store-tests.js'
import { sendOps, trustingJournals } from '../../helpers/journals.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }

/** Stripe `tag` of 8 bytes at k-of-n. */
function stripe (tag: string, k = 2, n = 3): StripeRef {
  return { index: 0, length: 8, id: `st-${tag}`, k, n, codecId: 1, fragments: Array.from({ length: n }, (_, i) => `${tag}-${i}`), holders: Array.from({ length: n }, (_, i) => [`D${i}`]) }
}

async function stripeOf (s: MetaStore, name: string): Promise<StripeRef> {
  const a = await s.lookup(ROOT_INO, name)
  assert.ok(a != null, `${name} exists`)
  return (await s.getStripes(a.ino, 0, 1))[0]
}

async function lastKind (s: MetaStore): Promise<string | undefined> {
  let kind
  for await (const op of s.exportOps()) kind = op.op.kind
  return kind
}

/** Two journals that both hold file `f` with stripe x (`f` on a, `fb` on b). */
async function fileOnTwo (t: TestContext): Promise<{ a: MetaStore, b: MetaStore, f: { ino: number }, fb: { ino: number } }> {
  const [a, b] = await trustingJournals(t, 2, 'palm-reencode-')
  const f = await a.create(ROOT_INO, 'f', FILE)
  await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
  await sendOps(a, b)
  const fb = await b.lookup(ROOT_INO, 'f')
  assert.ok(fb != null, 'f reached b')
  return { a, b, f, fb }
}

describe('the reencode op', () => {
  it('replaces the stripe it names, keeps version, size and times, and replicates', async (t) => {
    const [a, b] = await trustingJournals(t, 2, 'palm-reencode-')
    const f = await a.create(ROOT_INO, 'f', FILE)
    const before = await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
    await sendOps(a, b)
    assert.equal(await a.reencodeStripe(f.ino, 0, 'st-x', stripe('y', 1, 2)), true)
    const after = await a.getattr(f.ino)
    assert.equal(after.ctimeNs, before.ctimeNs, 'ctime unchanged: not a content change')
    assert.equal(after.mtimeNs, before.mtimeNs)
    assert.equal(after.size, 8)
    assert.equal(await lastKind(a), 'reencode')
    assert.deepEqual(await stripeOf(a, 'f'), stripe('y', 1, 2))
    await sendOps(a, b)
    assert.deepEqual(await stripeOf(b, 'f'), stripe('y', 1, 2))
    assert.deepEqual(await dumpTree(a), await dumpTree(b))
  })

  it('is skipped when the stripe was replaced: a concurrent write wins in either order, no conflict copy', async (t) => {
    const { a, b, f, fb } = await fileOnTwo(t)
    // Concurrently: a re-encodes stripe x, b rewrites the file (stripe w).
    await a.reencodeStripe(f.ino, 0, 'st-x', stripe('y', 1, 2))
    await b.setContent(fb.ino, { size: 8, stripeSize: 8, stripes: [stripe('w')] })
    await sendOps(a, b)
    await sendOps(b, a)
    for (const s of [a, b]) {
      assert.equal((await dumpTree(s)).filter(l => l.includes('conflict')).length, 0, 'no conflict copy')
      assert.equal((await stripeOf(s, 'f')).id, 'st-w', 'the write wins')
    }
    assert.deepEqual(await dumpTree(a), await dumpTree(b))
    // A local re-encoding of a stripe that is no longer there logs nothing.
    const ops = a.stats().ops
    assert.equal(await a.reencodeStripe(f.ino, 0, 'st-x', stripe('z', 1, 2)), false)
    assert.equal(a.stats().ops, ops)
  })

  it('converges when two devices re-encode the same stripe at once (the first in total order wins)', async (t) => {
    const { a, b, f, fb } = await fileOnTwo(t)
    const ya = { ...stripe('y', 1, 2), holders: [['A'], ['A2']] }
    const yb = { ...stripe('y', 1, 2), holders: [['B'], ['B2']] }
    await a.reencodeStripe(f.ino, 0, 'st-x', ya)
    await b.reencodeStripe(fb.ino, 0, 'st-x', yb)
    await sendOps(a, b)
    await sendOps(b, a)
    const sa = await stripeOf(a, 'f')
    assert.deepEqual(sa, await stripeOf(b, 'f'), 'both devices end with the same stripe')
    assert.ok([ya, yb].some(y => JSON.stringify(y) === JSON.stringify(sa)), 'one of the two re-encodings, whole')
    assert.deepEqual(await dumpTree(a), await dumpTree(b))
  })

  it('refuses malformed re-encodings, locally and from another device', async (t) => {
    const [a] = await trustingJournals(t, 1, 'palm-reencode-')
    const f = await a.create(ROOT_INO, 'f', FILE)
    await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe('x')] })
    await assert.rejects(a.reencodeStripe(f.ino, 0, 'st-x', { ...stripe('y', 1, 2), length: 7 }), { name: 'InvalidArgumentError' }, 'another length')
    await assert.rejects(a.reencodeStripe(f.ino, 0, 'st-x', { ...stripe('y', 1, 2), index: 1 }), { name: 'InvalidArgumentError' }, 'another index')
    await assert.rejects(a.reencodeStripe(f.ino, 0, 'st-x', { ...stripe('y', 1, 2), fragments: ['y-0'] }), { name: 'InvalidArgumentError' }, 'fragments ≠ n')
    await assert.rejects(a.reencodeStripe(f.ino, 0, 'st-x', { ...stripe('y', 3, 2) }), { name: 'InvalidArgumentError' }, 'k > n')
    await assert.rejects(a.reencodeStripe(f.ino, 0, 'st-x', stripe('x', 1, 2)), { name: 'InvalidArgumentError' }, 'replaces itself')
    assert.equal((await stripeOf(a, 'f')).id, 'st-x')

    // The same from a device that signs it anyway: logged, skipped, the tree unchanged.
    const evil = testSigner()
    await a.trustAuthor('dev-m', evil.publicKey)
    const body = encodeOp({ v: 1, hlc: 10n ** 19n, author: 'dev-m', seq: 1, time: 1n, kind: 'reencode', node: await nodeIdOf(a), index: 0, from: 'st-x', stripe: { ...stripe('y', 1, 2), length: 7 } } satisfies Op)
    const before = await dumpTree(a)
    const report = await a.applyRemote([{ body, sig: evil.sign(new TextEncoder().encode(body)) }])
    assert.deepEqual(report.refused, [])
    assert.equal(report.skipped, 1, 'the malformed op is skipped')
    assert.deepEqual(await dumpTree(a), before)
    assert.equal((await stripeOf(a, 'f')).id, 'st-x')
  })
})

/** The node id of file `f` (its create op's). */
async function nodeIdOf (s: MetaStore): Promise<string> {
  for await (const op of s.exportOps()) if (op.op.kind === 'create' && op.op.name === 'f') return `${op.op.seq}@${op.op.author}`
  throw new Error('no create of f')
}
