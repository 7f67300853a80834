/**
 * Rebalance's pure plan (src/repair/rebalance.ts): a small swarm's layout spreads when devices
 * join, usage evens out toward the mean, one mover per stripe, and no set of moves ever leaves a
 * stripe less protected than before.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadOf, lossesSurvivable } from '../../../src/place/index.js'
import { RebalancePlanner, moverOf, type RebalanceDevice } from '../../../src/repair/rebalance.js'

const GB = 1e9
const FRAG = 1e6

function stripe (id: string, holders: string[][], k = 4): { id: string, k: number, n: number, length: number, fragments: string[], holders: string[][] } {
  return { id, k, n: holders.length, length: 1000, fragments: holders.map((_, i) => `${id}-${i}`), holders }
}

function dev (id: string, usedBytes: number, capacityBytes = GB): RebalanceDevice {
  return { id, usedBytes, capacityBytes, freeBytes: capacityBytes - usedBytes }
}

const online = (ids: string[]): Set<string> => new Set(ids)

/** The layout after moves (first holder of each fragment). */
function apply (s: ReturnType<typeof stripe>, moves: Array<{ index: number, to: string }>): string[] {
  const out = s.holders.map(h => h[0])
  for (const m of moves) out[m.index] = m.to
  return out
}

describe('rebalance plan', () => {
  it('a small swarm\'s layout (writer keeps 4 of 6) spreads to 2 + 2 + 2 when a third device joins, in one set of moves', () => {
    const s = stripe('s', [['a'], ['a'], ['a'], ['a'], ['b'], ['b']])
    const planner = new RebalancePlanner('a', [dev('a', 0.3 * GB), dev('b', 0.3 * GB), dev('c', 0)])
    const moves = planner.plan(s, FRAG, online(['a', 'b', 'c']))
    assert.equal(moves.length, 2)
    const after = loadOf(apply(s, moves))
    assert.deepEqual([after.get('a'), after.get('b'), after.get('c')], [2, 2, 2])
    assert.equal(lossesSurvivable(after, s), 1)
    // b holds fewer than a: it is not this stripe's mover.
    assert.deepEqual(new RebalancePlanner('b', [dev('a', 0), dev('b', 0), dev('c', 0)]).plan(s, FRAG, online(['a', 'b', 'c'])), [])
  })

  it('never lowers protection, even between two moves: 4 + 2 on two devices stays (3 + 3 would survive neither)', () => {
    const s = stripe('s', [['a'], ['a'], ['a'], ['a'], ['b'], ['b']])
    assert.deepEqual(new RebalancePlanner('a', [dev('a', 0.9 * GB), dev('b', 0)]).plan(s, FRAG, online(['a', 'b'])), [])
  })

  it('a device joining a full pool gets fragments until usage is even, from each device\'s surplus only', () => {
    const six = ['a', 'b', 'c', 'd', 'e', 'f']
    const devices = [...six.map(id => dev(id, 0.6 * GB)), dev('g', 0)]
    const stripes = Array.from({ length: 600 }, (_, i) => stripe(`s${i}`, six.map(d => [d])))
    const received = new Map<string, number>()
    for (const self of six) {
      const planner = new RebalancePlanner(self, devices)
      for (const s of stripes) {
        for (const m of planner.plan(s, 1e7, online([...six, 'g']))) {
          assert.equal(m.to, 'g')
          received.set(self, (received.get(self) ?? 0) + 1)
          // The stripe stays on 6 distinct devices.
          assert.equal(new Set(apply(s, [m])).size, 6)
        }
      }
    }
    // Mean fill 3.6/7 ≈ 0.514: g lacks 0.514 GB, each of the six sends a sixth, 8.6 fragments of 10 MB: 8 whole ones.
    const total = [...received.values()].reduce((a, b) => a + b, 0)
    for (const self of six) assert.equal(received.get(self), 8, `${self}: ${received.get(self)}`)
    assert.ok(total * 1e7 <= (3.6 / 7) * GB, `the newcomer is filled up to the mean, never past it (${total} fragments)`)
    assert.ok(total * 1e7 >= (3.6 / 7 - 6 * 0.01) * GB, `the newcomer is filled to the mean but for a fragment per sender (${total} fragments)`)
    // Now even: g, at the mean or below, sends nothing back; the six send nothing more.
    const after = [...six.map(id => dev(id, 0.6 * GB - 8e7)), dev('g', total * 1e7)]
    for (const self of [...six, 'g']) {
      const planner = new RebalancePlanner(self, after)
      assert.deepEqual(stripes.flatMap(s => planner.plan(s, 1e7, online([...six, 'g']))), [], self)
    }
  })

  it('moves nothing when usage is within the slack, or while a holder is away', () => {
    const six = ['a', 'b', 'c', 'd', 'e', 'f']
    const s = stripe('s', six.map(d => [d]))
    assert.deepEqual(new RebalancePlanner('a', six.map(id => dev(id, 0.5 * GB))).plan(s, FRAG, online(six)), [])
    const kept = stripe('k', [['a'], ['a'], ['a'], ['a'], ['b'], ['b']])
    assert.deepEqual(new RebalancePlanner('a', [dev('a', 0), dev('b', 0), dev('c', 0)]).plan(kept, FRAG, online(['a', 'c'])), [])
    // A fragment with two holders (a queued spread) is not this device's own copy.
    const shared = stripe('q', [['a', 'c'], ['a', 'c'], ['a'], ['a'], ['b'], ['b']])
    const moves = new RebalancePlanner('a', [dev('a', 0), dev('b', 0), dev('c', 0)]).plan(shared, FRAG, online(['a', 'b', 'c']))
    assert.ok(moves.every(m => m.index >= 2), JSON.stringify(moves))
  })

  it('one mover per stripe: the holder with the most fragments, ties by rendezvous', () => {
    assert.equal(moverOf('s', new Map([['a', 4], ['b', 2]])), 'a')
    const tie = moverOf('s', new Map([['a', 1], ['b', 1], ['c', 1]]))
    assert.ok(tie != null && ['a', 'b', 'c'].includes(tie))
    assert.equal(moverOf('s', new Map([['c', 1], ['b', 1], ['a', 1]])), tie, 'the order of the map does not matter')
  })
})
