/**
 * The holders recorder (src/repair/holders-recorder.ts) against a real SQLite journal that signs
 * its ops: placements handed over one at a time, as repair runners do, are recorded as one op per
 * stripe but committed together under few seals, which is what makes a small-file repair cheap on
 * every device; a stripe rewritten meanwhile drops only its own op.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ROOT_INO, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import { HoldersRecorder } from '../../../src/repair/holders-recorder.js'
import { trustingJournals } from '../../helpers/journals.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }

/** A one-stripe, 2-of-3 layout with made-up fragment names (the journal checks their form, not the bytes). */
function layout (f: number): Omit<StripeRef, 'index'> {
  const cid = (i: number): string => `bafkreif${String(f).padStart(6, '0')}${i}${'a'.repeat(44)}`
  return { id: `stripe-${f}`, length: 4096, k: 2, n: 3, codecId: 1, fragments: [0, 1, 2].map(cid), holders: [['d1'], ['d2'], ['d3']] } as unknown as Omit<StripeRef, 'index'>
}

describe('HoldersRecorder', () => {
  it('records placements handed over one by one as one op each, under few seals, and reports each', async (t) => {
    const [meta] = await trustingJournals(t, 1, 'palm-holders-recorder-')
    const files: Array<{ ino: number, stripe: Omit<StripeRef, 'index'> }> = []
    for (let f = 0; f < 150; f++) {
      const { ino } = await meta.create(ROOT_INO, `f${f}`, FILE)
      const stripe = layout(f)
      await meta.setContent(ino, { size: 4096, stripeSize: 4096, stripes: [{ index: 0, ...stripe }] })
      files.push({ ino, stripe })
    }
    const before = (await meta.readOps('dev-0', 0, 1000)).length
    // One file is rewritten before its placement is recorded: only its op is dropped.
    await meta.setContent(files[7].ino, { size: 4096, stripeSize: 4096, stripes: [{ index: 0, ...layout(1000) }] })

    const recorder = new HoldersRecorder(meta)
    const outcomes = new Map<number, Error | undefined>()
    for (const [f, { ino, stripe }] of files.entries()) {
      // Handed over as runners do: one at a time, each in its own turn of the event loop.
      await new Promise(resolve => setImmediate(resolve))
      await recorder.add({ ino, index: 0, stripeId: stripe.id, set: [[2, stripe.fragments[2], ['d4']]] }, err => { outcomes.set(f, err) })
    }
    await recorder.flush()

    assert.equal(outcomes.size, files.length, 'every placement is reported')
    for (const [f, err] of outcomes) assert.equal(err, undefined, `file ${f}: ${String(err)}`)
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
})
