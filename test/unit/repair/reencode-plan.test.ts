/**
 * The pure core of re-encoding after a policy change (src/repair/reencode-plan.ts): a folder's
 * stored policy, which stripes are at another k/n, one device per stripe among the online ones, and
 * the bytes a re-encoding costs against the budget.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fragmentLengthFor } from '../../../src/chunk/index.js'
import { needsReencode, reencodeBytes, storedPolicy, stripesToReencode, updatesRecord } from '../../../src/repair/reencode-plan.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

function stripe (index: number, k: number, n: number): { index: number, id: string, k: number, n: number, length: number } {
  return { index, id: `st-${index}-${k}-${n}`, k, n, length: 1000 }
}

describe('re-encoding plan', () => {
  it('reads a folder policy as the VFS stores it, and ignores what no VFS would store', () => {
    assert.deepEqual(storedPolicy(enc('2-of-3')), { k: 2, n: 3 })
    assert.deepEqual(storedPolicy(enc('1-of-1')), { k: 1, n: 1 })
    assert.equal(storedPolicy(undefined), undefined)
    for (const bad of ['3-of-2', '0-of-2', '2-of-256', 'two-of-three', ' 2-of-3', '']) assert.equal(storedPolicy(enc(bad)), undefined, bad)
  })

  it('picks the stripes at another k/n than the policy, each by exactly one online device', () => {
    const stripes = [stripe(0, 2, 3), stripe(1, 1, 2), stripe(2, 2, 3), stripe(3, 3, 5)]
    assert.equal(needsReencode(stripes[1], { k: 1, n: 2 }), false)
    assert.equal(needsReencode(stripes[0], { k: 2, n: 4 }), true, 'n alone differs')
    assert.equal(needsReencode(stripes[0], { k: 1, n: 3 }), true, 'k alone differs')
    const online = ['a', 'b', 'c']
    const picks = online.map(d => stripesToReencode(stripes, { k: 1, n: 2 }, d, online))
    for (const p of picks) assert.deepEqual(p.all.map(s => s.index), [0, 2, 3], 'every device sees the same waiting stripes')
    const mine = picks.flatMap(p => p.mine.map(s => s.index)).sort()
    assert.deepEqual(mine, [0, 2, 3], 'each waiting stripe re-encoded by exactly one device')
    // A device not online (or not yet known to the others) re-encodes nothing.
    assert.deepEqual(stripesToReencode(stripes, { k: 1, n: 2 }, 'z', online).mine, [])
    // When the responsible device goes, its stripes move to the others; the rest stay where they were.
    const gone = online.find(d => picks[online.indexOf(d)].mine.length > 0) as string
    const rest = online.filter(d => d !== gone)
    const after = rest.flatMap(d => stripesToReencode(stripes, { k: 1, n: 2 }, d, rest).mine.map(s => s.index)).sort()
    assert.deepEqual(after, [0, 2, 3])
    for (const d of rest) {
      const before = picks[online.indexOf(d)].mine.map(s => s.index)
      const now = stripesToReencode(stripes, { k: 1, n: 2 }, d, rest).mine.map(s => s.index)
      assert.ok(before.every(i => now.includes(i)), `${d} keeps its own stripes`)
    }
  })

  it('has one device bring a file\'s own policy record to the folder\'s, only when it differs', () => {
    const online = ['a', 'b', 'c']
    const swarm = { k: 4, n: 6 }
    const first = stripe(0, 2, 3)
    const by = (record: { k: number, n: number } | undefined, policy: { k: number, n: number }): string[] => online.filter(d => updatesRecord(first, record, swarm, policy, d, online))
    assert.equal(by({ k: 2, n: 3 }, { k: 1, n: 2 }).length, 1, 'a record of the old policy: one device updates it')
    assert.equal(by(undefined, { k: 1, n: 2 }).length, 1, 'no record (the swarm\'s) and another policy')
    assert.deepEqual(by(undefined, swarm), [], 'no record and the swarm\'s policy: nothing to record')
    assert.deepEqual(by({ k: 1, n: 2 }, { k: 1, n: 2 }), [], 'already recorded')
    assert.deepEqual(online.filter(d => updatesRecord(undefined, { k: 2, n: 3 }, swarm, { k: 1, n: 2 }, d, online)), [], 'no stripe: no one')
  })

  it('costs k fragments fetched at the old policy plus n stored at the new one', () => {
    const s = stripe(0, 2, 3)
    assert.equal(reencodeBytes(s, { k: 1, n: 2 }), 2 * fragmentLengthFor(1000, 2) + 2 * fragmentLengthFor(1000, 1))
    assert.ok(reencodeBytes(s, { k: 3, n: 5 }) > 1000 + 5 * 1000 / 3)
  })
})
