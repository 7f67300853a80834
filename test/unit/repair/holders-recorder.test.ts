/**
 * The holders recorder (src/repair/holders-recorder.ts) against a real SQLite journal that signs
 * its ops: placements handed over one at a time, as repair runners do, are recorded as one op per
 * stripe but committed together under few seals, which is what makes a small-file repair cheap on
 * every device (with a batch of one, the first test saw 75 seals); a stripe rewritten meanwhile,
 * or whose holders another record changed since the placement was made, is not recorded; what
 * waits is recorded by the timer alone, and still after the pass that handed it over was aborted.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { ROOT_INO, type MetaStore, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import pWaitFor from 'p-wait-for'
import { HoldersRecorder, type Outcome } from '../../../src/repair/holders-recorder.js'
import { trustingJournals } from '../../helpers/journals.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }

/** A one-stripe, 2-of-3 layout with made-up fragment names (the journal checks their form, not the bytes). */
function layout (f: number): Omit<StripeRef, 'index'> {
  const cid = (i: number): string => `bafkreif${String(f).padStart(6, '0')}${i}${'a'.repeat(44)}`
  return { id: `stripe-${f}`, length: 4096, k: 2, n: 3, codecId: 1, fragments: [0, 1, 2].map(cid), holders: [['d1'], ['d2'], ['d3']] } as unknown as Omit<StripeRef, 'index'>
}

/** A signed journal holding `count` one-stripe files. */
async function journalWith (t: TestContext, count: number): Promise<{ meta: MetaStore, files: Array<{ ino: number, stripe: Omit<StripeRef, 'index'> }> }> {
  const [meta] = await trustingJournals(t, 1, 'palm-holders-recorder-')
  const files: Array<{ ino: number, stripe: Omit<StripeRef, 'index'> }> = []
  for (let f = 0; f < count; f++) {
    const { ino } = await meta.create(ROOT_INO, `f${f}`, FILE)
    const stripe = layout(f)
    await meta.setContent(ino, { size: 4096, stripeSize: 4096, stripes: [{ index: 0, ...stripe }] })
    files.push({ ino, stripe })
  }
  return { meta, files }
}

describe('HoldersRecorder', () => {
  it('records placements handed over one by one as one op each, under few seals, and reports each', async (t) => {
    const { meta, files } = await journalWith(t, 150)
    const before = (await meta.readOps('dev-0', 0, 1000)).length
    // One file is rewritten before its placement is recorded: only its op is dropped.
    await meta.setContent(files[7].ino, { size: 4096, stripeSize: 4096, stripes: [{ index: 0, ...layout(1000) }] })

    const recorder = new HoldersRecorder(meta)
    const outcomes = new Map<number, Outcome>()
    for (const [f, { ino, stripe }] of files.entries()) {
      // Handed over as runners do: one at a time, each in its own turn of the event loop.
      await new Promise(resolve => setImmediate(resolve))
      await recorder.add({ ino, index: 0, stripeId: stripe.id, set: [[2, stripe.fragments[2], ['d4']]] }, o => { outcomes.set(f, o) })
    }
    await recorder.flush()

    assert.equal(outcomes.size, files.length, 'every placement is reported')
    for (const [f, o] of outcomes) assert.equal(o, f === 7 ? 'stale' : 'recorded', `file ${f}: ${String(o)}`)
    for (const [f, { ino }] of files.entries()) {
      const [now] = await meta.getStripes(ino, 0, 1)
      assert.deepEqual(now.holders[2], f === 7 ? ['d3'] : ['d4'], `file ${f}`)
    }
    const ops = (await meta.readOps('dev-0', 0, 1000)).slice(before + 1)
    assert.equal(ops.length, files.length - 1, 'one op per placement recorded (none for the rewritten stripe)')
    assert.ok(ops.every(o => (JSON.parse(o.body) as { kind: string }).kind === 'holders'))
    const seals = ops.filter(o => o.sig != null).length
    assert.ok(seals <= 12, `${ops.length} ops were committed under ${seals} seals: the recorder did not batch them`)
  })

  it('records on its own after the delay, drops a placement whose stripe another record changed, and records after its pass was aborted', async (t) => {
    const { meta, files } = await journalWith(t, 3)
    const recorder = new HoldersRecorder(meta)
    const outcomes = new Map<number, Outcome>()
    const [a, b, c] = files
    // Handed over first (its add starts the timer) by a pass that is then aborted (a stop): the
    // copies are made, so it is still recorded, and so are the others of its batch.
    const pass = new AbortController()
    await recorder.add({ ino: c.ino, index: 0, stripeId: c.stripe.id, set: [[0, c.stripe.fragments[0], ['d5']]] }, o => { outcomes.set(2, o) }, { signal: pass.signal })
    pass.abort()
    // b's placement was made when its holders were the written ones; another record lands before it is recorded.
    await recorder.add({ ino: a.ino, index: 0, stripeId: a.stripe.id, set: [[0, a.stripe.fragments[0], ['d5']]], expect: a.stripe.holders }, o => { outcomes.set(0, o) })
    await recorder.add({ ino: b.ino, index: 0, stripeId: b.stripe.id, set: [[0, b.stripe.fragments[0], ['d5']]], expect: b.stripe.holders }, o => { outcomes.set(1, o) })
    assert.equal(await meta.setHolders(b.ino, 0, b.stripe.id, [[1, b.stripe.fragments[1], ['d6']]]), true)
    // No flush: the timer records them.
    await pWaitFor(() => outcomes.size === 3, { timeout: 10_000 })
    assert.deepEqual([outcomes.get(0), outcomes.get(1), outcomes.get(2)], ['recorded', 'stale', 'recorded'])
    assert.deepEqual((await meta.getStripes(a.ino, 0, 1))[0].holders, [['d5'], ['d2'], ['d3']])
    assert.deepEqual((await meta.getStripes(b.ino, 0, 1))[0].holders, [['d1'], ['d6'], ['d3']], 'the other record stays')
    assert.deepEqual((await meta.getStripes(c.ino, 0, 1))[0].holders, [['d5'], ['d2'], ['d3']])
    await recorder.flush()
  })
})
